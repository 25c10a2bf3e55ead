/**
 * Direct mode's parts, built once per api process when SYNC_RUN_MODE=direct (main.ts imports this
 * module only then: it loads the provider SDK). The run metrics go into the api's own registry under
 * the worker's names and label budget, so /metrics of a direct-mode api has the run, provider, token
 * and cost series a worker has in workflow mode.
 */
import type { Sql } from '@promptmill/infra/db';
import type { Logger } from '@promptmill/infra/logger';
import { streamCancellationsFor } from '@promptmill/infra/run-stream';
import {
  createPriceTable,
  createProviderRegistry,
  createRunMetrics,
  knownModelLabel,
  type RunMetrics,
} from '@promptmill/workers/provider-call';
import type { Registry } from 'prom-client';
import type { ApiEnv } from '../../env.ts';
import { createDirectRunner, type DirectRunner } from './direct-runner.ts';
import { startDirectLeases } from './leases.ts';

export interface DirectMode {
  runner: DirectRunner;
  metrics: RunMetrics;
  /** Waits (bounded) for the runs in flight to record their end, then stops renewing leases. */
  close(): Promise<void>;
}

export async function createDirectMode(opts: {
  env: ApiEnv;
  sql: Sql;
  logger: Logger;
  registry: Registry;
}): Promise<DirectMode> {
  const { sql, logger } = opts;
  const env = opts.env.providers;
  if (!env) throw new Error('direct mode needs the provider settings (loadApiEnv with SYNC_RUN_MODE=direct)');
  const leaseMs = opts.env.DIRECT_RUN_LEASE_MS;
  const metrics = createRunMetrics(opts.registry, {
    promptsPerOrg: env.METRICS_PROMPT_LABELS_PER_ORG,
    maxSeries: env.METRICS_MAX_SERIES,
    knownModel: knownModelLabel({ prices: env.MODEL_PRICES, providers: env.PROVIDERS }),
  });
  const cancellations = streamCancellationsFor(sql);
  // cancel requests for this process's runs arrive on a LISTEN connection: listen before the first run
  await cancellations.ready();
  const leases = startDirectLeases(sql, { leaseMs, logger });
  const runner = createDirectRunner({
    sql,
    logger,
    call: {
      providers: createProviderRegistry({
        providers: env.PROVIDERS,
        defaultBaseUrl: env.OPENAI_BASE_URL,
        defaultApiKey: env.OPENAI_API_KEY,
        timeoutMs: env.PROVIDER_TIMEOUT_MS,
      }),
      priceOf: createPriceTable(env.MODEL_PRICES),
      metrics,
      streamIdleTimeoutMs: env.PROVIDER_TIMEOUT_MS,
    },
    metrics,
    retry: {
      maxAttempts: opts.env.PROVIDER_MAX_ATTEMPTS,
      initialIntervalMs: opts.env.PROVIDER_RETRY_INITIAL_MS,
    },
    leaseMs,
    leases,
    cancellations,
  });
  return {
    runner,
    metrics,
    async close() {
      await runner.drain(5_000);
      leases.stop();
    },
  };
}
