import {
  booleanFromEnv,
  logLevelSchema,
  parseEnv,
  temporalEnvSchema,
  webhookEnvSchema,
} from '@promptmill/infra/config';
import { z } from 'zod';
import { providerEnvSchema, withProviderSettings } from './providers/provider-env.ts';

export { type ProviderConfig, priceSchema, providerConfigSchema } from './providers/provider-config.ts';

export const workerEnvSchema = z
  .object({
    /** Postgres connection string. */
    DATABASE_URL: z.string().url({ message: 'DATABASE_URL must be a postgres:// URL' }),
    /** Connections in this process's Postgres pool. */
    DB_POOL_MAX: z.coerce.number().int().min(1).max(500).default(10),
    /** Port of the worker's /metrics endpoint (0 = any free port). */
    WORKER_METRICS_PORT: z.coerce.number().int().min(0).max(65535).default(9464),
    /** Interface of the worker's /metrics endpoint. */
    WORKER_METRICS_HOST: z.string().min(1).default('127.0.0.1'),
    /** Concurrent activity / local activity executions in this worker. */
    WORKER_MAX_CONCURRENT_ACTIVITIES: z.coerce.number().int().min(1).max(10_000).default(200),
    /** Prebuilt workflow bundle (npm run build); unset → bundle the workflow source at start. */
    WORKFLOW_BUNDLE_PATH: z.string().min(1).optional(),
    /**
     * Seconds to wait before each webhook retry, comma-separated (tests use short ones); the number of
     * entries is the number of retries.
     */
    WEBHOOK_RETRY_DELAYS: z
      .string()
      .regex(/^\d+(\.\d+)?(,\d+(\.\d+)?)*$/, 'must be comma-separated seconds, e.g. 5,300,1800')
      .default('5,300,1800,7200,18000,36000,36000')
      .transform((v) => v.split(',').map((s) => Math.round(Number(s) * 1000))),
    /** Timeout of one webhook delivery attempt. */
    WEBHOOK_TIMEOUT_MS: z.coerce.number().int().min(100).max(120_000).default(15_000),
    /** A webhook endpoint whose deliveries have all failed for this long is disabled (5 days). */
    WEBHOOK_DISABLE_AFTER_SECONDS: z.coerce.number().int().min(1).default(432_000),
    /** How often the worker's webhook dispatcher polls the events outbox (a NOTIFY wakes it sooner). */
    WEBHOOK_DISPATCH_POLL_MS: z.coerce.number().int().min(50).max(600_000).default(1_000),
    /** A webhook message claimed this long ago with no attempt yet has its workflow started again (a no-op when it exists). */
    WEBHOOK_RESTART_AFTER_SECONDS: z.coerce.number().int().min(1).max(86_400).default(30),
    /**
     * Create the `promptmill-alerts` Temporal schedule (alert rules evaluated every minute) at start, unless it
     * exists. One worker per namespace is enough; false on workers that should leave it alone.
     */
    ALERTS_SCHEDULE_ENABLED: booleanFromEnv.default(true),
    /** fatal, error, warn, info, debug, trace or silent (JSON logs on stdout). */
    LOG_LEVEL: logLevelSchema,
  })
  // the provider settings (OPENAI_*, PROVIDERS, MODEL_*, PROVIDER_TIMEOUT_MS, METRICS_*): providers/provider-env.ts
  .extend(providerEnvSchema.shape)
  .extend(temporalEnvSchema.shape)
  .extend(webhookEnvSchema.shape);

export type WorkerEnv = z.infer<typeof workerEnvSchema>;

/** Parses the env and folds PROVIDERS_FILE and MODEL_PROVIDERS into PROVIDERS and MODEL_PRICES (fails fast). */
export function loadWorkerEnv(source: NodeJS.ProcessEnv = process.env): WorkerEnv {
  return withProviderSettings(parseEnv(workerEnvSchema, source, 'worker'), 'worker');
}
