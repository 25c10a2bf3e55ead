import {
  EnvError,
  logLevelSchema,
  parseEnv,
  secretFromEnv,
  temporalEnvSchema,
  webhookEnvSchema,
} from '@promptmill/infra/config';
import { z } from 'zod';
import {
  mergeProviderSettings,
  modelMapSchema,
  ProviderConfigError,
  priceSchema,
  providerConfigSchema,
  readProvidersFile,
} from './providers/provider-config.ts';

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

export { type ProviderConfig, priceSchema, providerConfigSchema } from './providers/provider-config.ts';

export const workerEnvSchema = z
  .object({
    /** Postgres connection string. */
    DATABASE_URL: z.string().url({ message: 'DATABASE_URL must be a postgres:// URL' }),
    /** Connections in this process's Postgres pool. */
    DB_POOL_MAX: z.coerce.number().int().min(1).max(500).default(10),
    /** Key for the default OpenAI-compatible provider. Unset → the local stack starts the mock provider. */
    OPENAI_API_KEY: secretFromEnv(
      'OPENAI_API_KEY',
      1,
      'the local stack then starts the mock provider',
    ).optional(),
    /** Base URL of the default provider (any OpenAI-compatible server). */
    OPENAI_BASE_URL: z.string().url().default('https://api.openai.com/v1'),
    /**
     * JSON array of extra OpenAI-compatible providers: [{name, baseUrl, apiKey|apiKeyEnv, models:[…], timeoutMs?}];
     * `models` holds exact names, `prefix*` or `*`. A model no provider claims goes to the default (OPENAI_BASE_URL).
     */
    PROVIDERS: jsonString(z.array(providerConfigSchema)).default([]),
    /** JSON map model → provider name, an explicit route that wins over every pattern: {"llama-3.1-8b": "groq"}. */
    MODEL_PROVIDERS: jsonString(modelMapSchema).default({}),
    /** JSON map of USD prices per 1M tokens, merged over the built-in table: {"model": {"input": 0.15, "output": 0.6}}. */
    MODEL_PRICES: jsonString(z.record(z.string(), priceSchema)).default({}),
    /**
     * Path of a JSON file with the same settings: [providers…] or {providers, models, prices}.
     * Env entries win over the file's (PROVIDERS are matched first; MODEL_PROVIDERS and MODEL_PRICES override).
     */
    PROVIDERS_FILE: z.string().min(1).optional(),
    /** Timeout of one provider HTTP call. */
    PROVIDER_TIMEOUT_MS: z.coerce.number().int().min(100).max(600_000).default(60_000),
    /** Port of the worker's /metrics endpoint (0 = any free port). */
    WORKER_METRICS_PORT: z.coerce.number().int().min(0).max(65535).default(9464),
    /** Interface of the worker's /metrics endpoint. */
    WORKER_METRICS_HOST: z.string().min(1).default('127.0.0.1'),
    /**
     * Distinct prompt labels per organization (and version labels per prompt) in this process's run
     * metrics; later ones are `<org tag>/other` (README, Operations: metric labels).
     */
    METRICS_PROMPT_LABELS_PER_ORG: z.coerce.number().int().min(1).max(10_000).default(50),
    /** Distinct label sets per run metric in this process; later ones have prompt, version and model `other`. */
    METRICS_MAX_SERIES: z.coerce.number().int().min(100).max(1_000_000).default(10_000),
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
    /** fatal, error, warn, info, debug, trace or silent (JSON logs on stdout). */
    LOG_LEVEL: logLevelSchema,
  })
  .extend(temporalEnvSchema.shape)
  .extend(webhookEnvSchema.shape);

export type WorkerEnv = z.infer<typeof workerEnvSchema>;

/** Parses the env and folds PROVIDERS_FILE and MODEL_PROVIDERS into PROVIDERS and MODEL_PRICES (fails fast). */
export function loadWorkerEnv(source: NodeJS.ProcessEnv = process.env): WorkerEnv {
  const env = parseEnv(workerEnvSchema, source, 'worker');
  try {
    const settings = mergeProviderSettings({
      envProviders: env.PROVIDERS,
      envPrices: env.MODEL_PRICES,
      envModels: env.MODEL_PROVIDERS,
      file: env.PROVIDERS_FILE ? readProvidersFile(env.PROVIDERS_FILE) : undefined,
    });
    return { ...env, PROVIDERS: settings.providers, MODEL_PRICES: settings.prices };
  } catch (err) {
    if (err instanceof ProviderConfigError)
      throw new EnvError(`worker: invalid environment\n  ${err.message}`);
    throw err;
  }
}
