import type { Sql } from '@promptmill/infra/db';
import type { RunRetryPolicy } from '@promptmill/workflows';
import type { TemporalHandle } from '../temporal.ts';
import type { RunDispatcher } from './dispatch/index.ts';

export interface RunDeps {
  sql: Sql;
  temporal: TemporalHandle;
  retry: RunRetryPolicy;
  syncTimeoutMs: number;
  /** starts the workflows of async runs in the background (dispatch/) */
  dispatcher: RunDispatcher;
  /** sync and streaming runs report how long they waited for a worker (load shedding: sync-admission.ts) */
  observeQueueDelay?: ((ms: number) => void) | undefined;
  /** WEBHOOK_ALLOW_PRIVATE: an async run's webhookUrl may name a private or loopback target */
  webhookAllowPrivate?: boolean | undefined;
}
