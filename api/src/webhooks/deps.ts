import type { Sql } from '@promptmill/infra/db';
import type { Svix } from 'svix';
import type { TemporalHandle } from '../temporal.ts';

/** What the webhooks room needs. */
export interface WebhookDeps {
  sql: Sql;
  temporal: TemporalHandle;
  /** WEBHOOK_ALLOW_PRIVATE: loopback and private targets (and plain http) are accepted */
  allowPrivate: boolean;
  /** how a target's host resolves (tests substitute their own); the system resolver by default */
  resolve?: ((host: string) => Promise<string[]>) | undefined;
  /** Svix mode (SVIX_TOKEN): the delivery log and retries of handed-over messages are Svix's */
  svix?: Svix | undefined;
}
