import { booleanFromEnv, logLevelSchema, parseEnv, temporalEnvSchema } from '@promptmill/infra/config';
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
     * Create the `promptmill-alerts` Temporal schedule (alert rules evaluated every minute) at start, unless it
     * exists. One worker per namespace is enough; false on workers that should leave it alone.
     */
    ALERTS_SCHEDULE_ENABLED: booleanFromEnv.default(true),
    /** fatal, error, warn, info, debug, trace or silent (JSON logs on stdout). */
    LOG_LEVEL: logLevelSchema,
  })
  // the provider settings (OPENAI_*, PROVIDERS, MODEL_*, PROVIDER_TIMEOUT_MS, METRICS_*): providers/provider-env.ts
  .extend(providerEnvSchema.shape)
  .extend(temporalEnvSchema.shape);

export type WorkerEnv = z.infer<typeof workerEnvSchema>;

/** Parses the env and folds PROVIDERS_FILE and MODEL_PROVIDERS into PROVIDERS and MODEL_PRICES (fails fast). */
export function loadWorkerEnv(source: NodeJS.ProcessEnv = process.env): WorkerEnv {
  return withProviderSettings(parseEnv(workerEnvSchema, source, 'worker'), 'worker');
}
