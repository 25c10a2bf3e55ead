import type { Sql } from '@promptmill/infra/db';
import type { RunRetryPolicy } from '@promptmill/workflows';
import type { TemporalHandle } from '../temporal.ts';

export interface ChainDeps {
  sql: Sql;
  temporal: TemporalHandle;
  /** each step's run retries its provider calls like a single run */
  retry: RunRetryPolicy;
  /** WEBHOOK_ALLOW_PRIVATE: a chain run's webhookUrl may name a private or loopback target */
  webhookAllowPrivate?: boolean | undefined;
}
