import {
  booleanFromEnv,
  EnvError,
  logLevelSchema,
  parseEnv,
  secretFromEnv,
  temporalEnvSchema,
  webhookEnvSchema,
} from '@promptmill/infra/config';
import { type ProviderEnv, providerEnvSchema, withProviderSettings } from '@promptmill/workers/provider-env';
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
    ADMIN_TOKEN: secretFromEnv('ADMIN_TOKEN', 16, 'the operator API is then off').optional(),
    /** Largest accepted request body, in bytes. */
    MAX_BODY_BYTES: z.coerce.number().int().min(1024).default(1_048_576),
    /**
     * How sync and streaming runs execute: `workflow` (a Temporal workflow each: durable, visible in the
     * Temporal UI) or `direct` (this api process calls the provider itself, with the same retries,
     * fallbacks, budgets, usage rows and metrics: faster, not durable — a crash fails the run; needs the
     * provider settings, as the worker). Async runs and chains are always workflows.
     */
    SYNC_RUN_MODE: z.enum(['workflow', 'direct']).default('workflow'),
    /**
     * Direct runs: an api process keeps a lease on each run it executes (renewed every third of this);
     * once a run's lease has run out, any api process (sweeping every third of its own setting) fails it
     * with SERVICE_UNAVAILABLE and settles its usage and budget reservation.
     */
    DIRECT_RUN_LEASE_MS: z.coerce.number().int().min(1_000).max(600_000).default(15_000),
    /** How long a sync run waits for its result before 504 RUN_TIMEOUT (the run goes on). */
    SYNC_RUN_TIMEOUT_MS: z.coerce.number().int().min(100).max(600_000).default(30_000),
    /** Sync and streaming runs one api process handles at once; more are refused at once with 503 SERVICE_UNAVAILABLE and Retry-After (0 = no limit). The default is one worker's WORKER_MAX_CONCURRENT_ACTIVITIES (200) shared by two api processes. */
    SYNC_RUN_MAX_IN_FLIGHT: z.coerce.number().int().min(0).max(100_000).default(100),
    /** Sync and streaming runs whose wait for a worker (row created → first provider call) exceeds this lower the process's limit below SYNC_RUN_MAX_IN_FLIGHT until waits are short again (0 = off). */
    SYNC_RUN_TARGET_QUEUE_MS: z.coerce.number().int().min(0).max(60_000).default(250),
    /** Async runs: workflow starts in flight at once per api process (the 202 does not wait for them). */
    RUN_DISPATCH_CONCURRENCY: z.coerce.number().int().min(1).max(1_000).default(32),
    /** Async runs: how often each api process sweeps for runs nobody started (a crashed or stopped process's) and starts them. */
    RUN_DISPATCH_SWEEP_INTERVAL_MS: z.coerce.number().int().min(100).max(600_000).default(2_000),
    /** Async runs whose workflow could not be started for this long (Temporal unreachable) fail with SERVICE_UNAVAILABLE. */
    RUN_DISPATCH_GIVE_UP_SECONDS: z.coerce.number().int().min(30).max(86_400).default(600),
    /** Test only (refused unless NODE_ENV=test): async runs wait this long in memory before their workflow start (0 = off). */
    RUN_DISPATCH_TEST_HOLD_MS: z.coerce.number().int().min(0).max(600_000).default(0),
    /** Provider attempts per model before falling back to the next model. */
    PROVIDER_MAX_ATTEMPTS: z.coerce.number().int().min(1).max(20).default(4),
    /** First retry delay; doubles per attempt (a provider Retry-After overrides it). */
    PROVIDER_RETRY_INITIAL_MS: z.coerce.number().int().min(1).max(60_000).default(500),
    /** When the shared rate-limit store is unavailable (unreachable, connections refused or exhausted, shutting down, no answer within RATE_LIMIT_TIMEOUT_MS): admit (open) or refuse with 503 (closed). Any other store error is a 500, never an admission. */
    RATE_LIMIT_FAIL_MODE: z.enum(['open', 'closed']).default('open'),
    /** Master switch for every rate limit (per key, per org, global); false only for benchmarks or trusted setups. */
    RATE_LIMITS_ENABLED: booleanFromEnv.default(true),
    /** How long a rate-limit decision may wait for Postgres before RATE_LIMIT_FAIL_MODE applies. */
    RATE_LIMIT_TIMEOUT_MS: z.coerce.number().int().min(10).max(60_000).default(1_000),
    /** Per-process circuit breaker over all tenants, requests per minute (0 = off, the default); only requests a tenant's own limits admit spend it. Off by default: one api process serves about 200,000 authenticated reads a minute on 2 cores but only a few thousand runs, so no single number fits every route mix; set it to shed load below what your processes serve. */
    GLOBAL_RATE_LIMIT_PER_MINUTE: z.coerce.number().int().min(0).default(0),
    /** The most rate-limit permits an api process leases at once from Postgres for one key's windows, then admits from memory until they are spent or the second ends (unspent ones are given back; limits stay exact). 1 = no leases: one Postgres statement per request. */
    RATE_LIMIT_LEASE_MAX: z.coerce.number().int().min(1).max(1_000_000).default(1_000),
    /** How long an api process may serve an API key (with its owner and organization) from memory before reading it again. Changes reach every process at once through Postgres NOTIFY (within 1 s if that channel fails: keys are then read on every request). 0 = no cache: every request reads its key. */
    AUTH_CACHE_MAX_AGE_MS: z.coerce.number().int().min(0).max(3_600_000).default(30_000),
    /** Failed authentications (401 on keyed routes, invalid_client on /oauth/token) per client address per minute, per api process; past it, every request from that address gets 429 until the budget refills (0 = off). */
    AUTH_FAILURE_LIMIT_PER_MINUTE: z.coerce.number().int().min(0).max(1_000_000).default(30),
    /** How often each api process deletes expired rate-limit counter rows. */
    RATE_LIMIT_CLEANUP_INTERVAL_MS: z.coerce.number().int().min(1_000).default(60_000),
    /** How often each api process deletes expired identical-request cache rows (in batches of 1,000). */
    RUN_CACHE_PURGE_INTERVAL_MS: z.coerce.number().int().min(1_000).default(60_000),
    /** How often per-key usage_count / last_used_at are flushed (batched; listings lag by this much). */
    USAGE_FLUSH_INTERVAL_MS: z.coerce.number().int().min(50).max(60_000).default(1_000),
    /** HMAC secret for OAuth2 access tokens; unset = random per process, so tokens only work on the process that issued them: set one shared value when running several api processes. */
    TOKEN_SIGNING_SECRET: secretFromEnv(
      'TOKEN_SIGNING_SECRET',
      32,
      'a random secret per process, so tokens work only where issued',
    ).optional(),
    /** Lifetime of OAuth2 access tokens from POST /oauth/token (capped by the key's own expiry). */
    OAUTH_TOKEN_TTL_SECONDS: z.coerce.number().int().min(60).max(86_400).default(3_600),
    /** Test only (refused unless NODE_ENV=test): PUT /admin/v1/test-clock may shift this process's clock. */
    TEST_CLOCK: booleanFromEnv.default(false),
    /** Number of proxy hops to trust for the client address (Express `trust proxy`), which the failed-authentication limiter counts by. */
    TRUST_PROXY: z.coerce.number().int().min(0).default(0),
    /**
     * Also run a worker on the runs task queue in this process, configured by the worker's variables
     * (providers, prices, WORKFLOW_BUNDLE_PATH, …), and start sync and streaming runs eagerly on it.
     * Runs stay durable workflows any worker can finish (README, Benchmarks: eager start). Not with
     * SYNC_RUN_MODE=direct.
     */
    API_EMBEDDED_WORKER: booleanFromEnv.default(false),
    /** fatal, error, warn, info, debug, trace or silent (JSON logs on stdout). */
    LOG_LEVEL: logLevelSchema,
    /** Log every request line (method, route, status, latency). */
    LOG_REQUESTS: booleanFromEnv.default(true),
  })
  .extend(temporalEnvSchema.shape)
  .extend(webhookEnvSchema.shape);

export type ApiEnv = z.infer<typeof apiEnvSchema> & {
  /** SYNC_RUN_MODE=direct: the provider settings (OPENAI_*, PROVIDERS, MODEL_*, PROVIDER_TIMEOUT_MS, METRICS_*) */
  providers?: ProviderEnv | undefined;
};

export function loadApiEnv(source: NodeJS.ProcessEnv = process.env): ApiEnv {
  const env: ApiEnv = parseEnv(apiEnvSchema, source, 'api');
  if (env.TEST_CLOCK && source.NODE_ENV !== 'test') {
    throw new EnvError('api: invalid environment\n  TEST_CLOCK: only allowed with NODE_ENV=test');
  }
  if (env.RUN_DISPATCH_TEST_HOLD_MS > 0 && source.NODE_ENV !== 'test') {
    throw new EnvError(
      'api: invalid environment\n  RUN_DISPATCH_TEST_HOLD_MS: only allowed with NODE_ENV=test',
    );
  }
  if (env.SYNC_RUN_MODE === 'direct' && env.API_EMBEDDED_WORKER) {
    // an embedded worker only speeds up the starts of workflow-mode sync runs, which direct mode has none of
    throw new EnvError(
      'api: invalid environment\n  API_EMBEDDED_WORKER: not with SYNC_RUN_MODE=direct (sync runs start no workflow)',
    );
  }
  if (env.SYNC_RUN_MODE === 'direct') {
    return { ...env, providers: withProviderSettings(parseEnv(providerEnvSchema, source, 'api'), 'api') };
  }
  return env;
}
