import type { Sql } from '@promptmill/infra/db';
import type { Logger } from '@promptmill/infra/logger';
import type { HostedRunWorker } from '@promptmill/workers';
import type { NativeConnection } from '@temporalio/worker';
import type { Registry } from 'prom-client';

export interface EmbeddedWorker {
  /** the worker's connection: the api's eager-start Client is built on it */
  connection: NativeConnection;
  /** the worker's run metrics, served on the api's /metrics */
  registry: Registry;
  /** stops polling, lets running tasks finish (up to the worker's grace time), closes the connection */
  stop(): Promise<void>;
}

/**
 * API_EMBEDDED_WORKER=true: this api process also runs a worker on the runs task queue, configured
 * like the worker process (the same environment: providers, prices, timeouts, WORKFLOW_BUNDLE_PATH),
 * on the api's Postgres pool. Sync and streaming runs are then started eagerly on it (temporal.ts):
 * Temporal hands the run's first workflow task back in the start's answer, with no trip through
 * the task queue. The run stays a durable workflow: if this process dies, any worker on the queue
 * finishes it. Loaded only when enabled (the worker SDK, the provider client and a workflow isolate
 * cost memory).
 */
export async function startEmbeddedWorker(sql: Sql, logger: Logger): Promise<EmbeddedWorker> {
  const { hostRunWorker, loadWorkerEnv } = await import('@promptmill/workers');
  const { DefaultLogger, Runtime } = await import('@temporalio/worker');
  const env = loadWorkerEnv();
  Runtime.install({ logger: new DefaultLogger(env.LOG_LEVEL === 'debug' ? 'DEBUG' : 'WARN') });
  const hosted: HostedRunWorker = await hostRunWorker(env, sql, { processMetrics: false });
  const running = hosted.worker.run();
  running.catch((err: unknown) => logger.error({ err }, 'embedded worker stopped'));
  logger.info({ taskQueue: env.TEMPORAL_TASK_QUEUE }, 'embedded worker running');
  return {
    connection: hosted.connection,
    registry: hosted.metrics.registry,
    stop: async () => {
      hosted.worker.shutdown();
      await running.catch(() => {});
      await hosted.connection.close();
      await hosted.webhookSender.close();
    },
  };
}
