import type { Sql } from '@promptmill/infra/db';
import type { RunRetryPolicy } from '@promptmill/workflows';
import type { TemporalHandle } from '../temporal.ts';
import type { DirectRunner } from './direct/direct-runner.ts';
import type { RunDispatcher } from './dispatch/index.ts';

export interface RunDeps {
  sql: Sql;
  temporal: TemporalHandle;
  retry: RunRetryPolicy;
  syncTimeoutMs: number;
  /** starts the workflows of async runs in the background (dispatch/) */
  dispatcher: RunDispatcher;
  /** SYNC_RUN_MODE=direct: sync and streaming runs are executed by this process (direct/) */
  direct?: DirectRunner | undefined;
  /** sync and streaming runs report how long they waited for a worker (load shedding: sync-admission.ts) */
  observeQueueDelay?: ((ms: number) => void) | undefined;
  /** WEBHOOK_ALLOW_PRIVATE: an async run's webhookUrl may name a private or loopback target */
  webhookAllowPrivate?: boolean | undefined;
}
