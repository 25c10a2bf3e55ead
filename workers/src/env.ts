import { logLevelSchema, parseEnv, temporalEnvSchema } from '@promptmill/infra/config';
import { z } from 'zod';

const jsonString = <T extends z.ZodType>(schema: T) =>
  z
    .string()
    .transform((text, ctx) => {
      try {
        return JSON.parse(text) as unknown;
      } catch {
        ctx.addIssue({ code: 'custom', message: 'must be valid JSON' });
        return z.NEVER;
      }
    })
    .pipe(schema);

export const providerConfigSchema = z
  .object({
    name: z.string().min(1),
    baseUrl: z.string().url(),
    /** The key itself, or the name of the env var that holds it. */
    apiKey: z.string().optional(),
    apiKeyEnv: z.string().optional(),
    /** Model names this provider serves; `*` matches any, `prefix*` a prefix. */
    models: z.array(z.string().min(1)).min(1),
  })
  .strict();
export type ProviderConfig = z.infer<typeof providerConfigSchema>;

export const priceSchema = z.object({ input: z.number().min(0), output: z.number().min(0) }).strict();

export const workerEnvSchema = z
  .object({
    DATABASE_URL: z.string().url({ message: 'DATABASE_URL must be a postgres:// URL' }),
    DB_POOL_MAX: z.coerce.number().int().min(1).max(500).default(10),
    /** Key for the default OpenAI-compatible provider. Unset → the local stack starts the mock provider. */
    OPENAI_API_KEY: z.string().min(1).optional(),
    /** Base URL of the default provider (any OpenAI-compatible server). */
    OPENAI_BASE_URL: z.string().url().default('https://api.openai.com/v1'),
    /** JSON array of extra providers: [{name, baseUrl, apiKey|apiKeyEnv, models:[…]}]; matched before the default. */
    PROVIDERS: jsonString(z.array(providerConfigSchema)).default([]),
    /** JSON map of USD prices per 1M tokens, merged over the built-in table: {"model": {"input": 0.15, "output": 0.6}}. */
    MODEL_PRICES: jsonString(z.record(z.string(), priceSchema)).default({}),
    /** Timeout of one provider HTTP call. */
    PROVIDER_TIMEOUT_MS: z.coerce.number().int().min(100).max(600_000).default(60_000),
    /** Port of the worker's /metrics endpoint (0 = any free port). */
    WORKER_METRICS_PORT: z.coerce.number().int().min(0).max(65535).default(9464),
    WORKER_METRICS_HOST: z.string().min(1).default('127.0.0.1'),
    /** Concurrent activity / local activity executions in this worker. */
    WORKER_MAX_CONCURRENT_ACTIVITIES: z.coerce.number().int().min(1).max(10_000).default(200),
    /** Prebuilt workflow bundle (npm run build); unset → bundle the workflow source at start. */
    WORKFLOW_BUNDLE_PATH: z.string().min(1).optional(),
    LOG_LEVEL: logLevelSchema,
  })
  .extend(temporalEnvSchema.shape);

export type WorkerEnv = z.infer<typeof workerEnvSchema>;

export function loadWorkerEnv(source: NodeJS.ProcessEnv = process.env): WorkerEnv {
  return parseEnv(workerEnvSchema, source, 'worker');
}
