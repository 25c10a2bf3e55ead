import { booleanFromEnv, logLevelSchema, parseEnv, temporalEnvSchema } from '@promptmill/infra/config';
import { z } from 'zod';

export const apiEnvSchema = z
  .object({
    /** HTTP port of the api. */
    PORT: z.coerce.number().int().min(0).max(65535).default(3000),
    /** Interface to bind; loopback by default, 0.0.0.0 behind a proxy or in a container. */
    HOST: z.string().min(1).default('127.0.0.1'),
    /** Postgres connection string (the local stack sets it to the embedded Postgres). */
    DATABASE_URL: z.string().url({ message: 'DATABASE_URL must be a postgres:// URL' }),
    /** Connections in this process's Postgres pool. */
    DB_POOL_MAX: z.coerce.number().int().min(1).max(500).default(20),
    /** Bearer token for the operator API under /admin/v1; the admin API is off when unset. */
    ADMIN_TOKEN: z.string().min(16, 'ADMIN_TOKEN must be at least 16 characters').optional(),
    /** Largest accepted request body, in bytes. */
    MAX_BODY_BYTES: z.coerce.number().int().min(1024).default(1_048_576),
    /** How long a sync run waits for its result before 504 RUN_TIMEOUT (the run goes on). */
    SYNC_RUN_TIMEOUT_MS: z.coerce.number().int().min(100).max(600_000).default(30_000),
    /** Provider attempts per model before falling back to the next model. */
    PROVIDER_MAX_ATTEMPTS: z.coerce.number().int().min(1).max(20).default(4),
    /** First retry delay; doubles per attempt (a provider Retry-After overrides it). */
    PROVIDER_RETRY_INITIAL_MS: z.coerce.number().int().min(1).max(60_000).default(500),
    /** When the shared rate-limit store is unreachable: admit (open) or refuse (closed). */
    RATE_LIMIT_FAIL_MODE: z.enum(['open', 'closed']).default('open'),
    /** Number of proxy hops to trust for the client address (Express `trust proxy`). */
    TRUST_PROXY: z.coerce.number().int().min(0).default(0),
    LOG_LEVEL: logLevelSchema,
    /** Log every request line (method, route, status, latency). */
    LOG_REQUESTS: booleanFromEnv.default(true),
  })
  .extend(temporalEnvSchema.shape);

export type ApiEnv = z.infer<typeof apiEnvSchema>;

export function loadApiEnv(source: NodeJS.ProcessEnv = process.env): ApiEnv {
  return parseEnv(apiEnvSchema, source, 'api');
}
