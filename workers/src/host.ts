import { temporalConnectionOptions } from '@promptmill/infra/config';
import type { Sql } from '@promptmill/infra/db';
import { NativeConnection, type Worker } from '@temporalio/worker';
import { createActivities } from './activities/index.ts';
import type { WorkerEnv } from './env.ts';
import { knownModelLabel } from './metric-labels.ts';
import { createWorkerMetrics, type WorkerMetrics } from './metrics.ts';
import { createPriceTable } from './providers/pricing.ts';
import { createProviderRegistry } from './providers/provider-registry.ts';
import { createSender, type Sender } from './webhooks/send.ts';
import { createSvixHandoff } from './webhooks/svix-handoff.ts';
import { createRunWorker } from './worker.ts';

export interface HostedRunWorker {
  /** the worker's own connection: a Client built on it can start workflows eagerly on this worker */
  connection: NativeConnection;
  worker: Worker;
  metrics: WorkerMetrics;
  /** the webhook sender's connection pool: close it after the worker stops */
  webhookSender: Sender;
}

/**
 * A run worker and everything it needs (provider registry, prices, metrics, Temporal connection),
 * on the caller's Postgres pool: the worker process (main.ts) and an api process hosting a worker
 * (API_EMBEDDED_WORKER=true) build it alike. The caller runs it (`worker.run()`) and shuts it down.
 */
export async function hostRunWorker(
  env: WorkerEnv,
  sql: Sql,
  opts: { processMetrics?: boolean } = {},
): Promise<HostedRunWorker> {
  const metrics = createWorkerMetrics({
    processMetrics: opts.processMetrics ?? true,
    promptsPerOrg: env.METRICS_PROMPT_LABELS_PER_ORG,
    maxSeries: env.METRICS_MAX_SERIES,
    knownModel: knownModelLabel({ prices: env.MODEL_PRICES, providers: env.PROVIDERS }),
  });
  const providers = createProviderRegistry({
    providers: env.PROVIDERS,
    defaultBaseUrl: env.OPENAI_BASE_URL,
    defaultApiKey: env.OPENAI_API_KEY,
    timeoutMs: env.PROVIDER_TIMEOUT_MS,
  });
  const webhookSender = createSender({
    allowPrivate: env.WEBHOOK_ALLOW_PRIVATE,
    timeoutMs: env.WEBHOOK_TIMEOUT_MS,
  });
  const connection = await NativeConnection.connect(temporalConnectionOptions(env));
  try {
    const worker = await createRunWorker({
      connection,
      namespace: env.TEMPORAL_NAMESPACE,
      taskQueue: env.TEMPORAL_TASK_QUEUE,
      activities: createActivities({
        sql,
        providers,
        priceOf: createPriceTable(env.MODEL_PRICES),
        metrics,
        streamIdleTimeoutMs: env.PROVIDER_TIMEOUT_MS,
        webhooks: {
          sender: webhookSender,
          retryDelaysMs: env.WEBHOOK_RETRY_DELAYS,
          disableAfterSeconds: env.WEBHOOK_DISABLE_AFTER_SECONDS,
          svix: env.SVIX_TOKEN
            ? createSvixHandoff({ token: env.SVIX_TOKEN, serverUrl: env.SVIX_SERVER_URL })
            : undefined,
        },
      }),
      workflowBundlePath: env.WORKFLOW_BUNDLE_PATH,
      maxConcurrentActivities: env.WORKER_MAX_CONCURRENT_ACTIVITIES,
    });
    return { connection, worker, metrics, webhookSender };
  } catch (err) {
    await connection.close();
    await webhookSender.close();
    throw err;
  }
}
