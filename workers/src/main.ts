import { createSql } from '@promptmill/infra/db';
import { createLogger } from '@promptmill/infra/logger';
import { Client } from '@temporalio/client';
import { DefaultLogger, MetricsBuffer, Runtime } from '@temporalio/worker';
import { startAlertSchedule } from './alerts/alert-schedule.ts';
import { loadWorkerEnv } from './env.ts';
import { hostRunWorker } from './host.ts';
import { startMetricsServer } from './metrics-server.ts';
import { createTemporalMetricsBridge } from './temporal-metrics.ts';
import { startWebhookDispatcher } from './webhooks/dispatcher.ts';

const env = loadWorkerEnv();
const logger = createLogger('worker', env.LOG_LEVEL);
// the SDK's own metrics are buffered and served on WORKER_METRICS_PORT with ours (temporal-metrics.ts)
const temporalMetricsBuffer = new MetricsBuffer({ maxBufferSize: 100_000, useSecondsForDurations: true });
Runtime.install({
  logger: new DefaultLogger(env.LOG_LEVEL === 'debug' ? 'DEBUG' : 'WARN'),
  telemetryOptions: { metrics: { buffer: temporalMetricsBuffer, attachServiceName: false } },
});

const sql = createSql(env.DATABASE_URL, { max: env.DB_POOL_MAX, appName: 'promptmill-worker' });
const { connection, worker, metrics, webhookSender } = await hostRunWorker(env, sql);
// the events outbox → one delivery workflow per (event, target) (webhooks/dispatcher.ts)
const webhookDispatcher = startWebhookDispatcher({
  sql,
  client: new Client({ connection, namespace: env.TEMPORAL_NAMESPACE }),
  taskQueue: env.TEMPORAL_TASK_QUEUE,
  logger,
  pollIntervalMs: env.WEBHOOK_DISPATCH_POLL_MS,
  restartAfterSeconds: env.WEBHOOK_RESTART_AFTER_SECONDS,
});
// alert rules are evaluated every minute by a Temporal schedule; the first worker to start creates it
const stopAlertSchedule = env.ALERTS_SCHEDULE_ENABLED
  ? startAlertSchedule(
      new Client({ connection, namespace: env.TEMPORAL_NAMESPACE }),
      env.TEMPORAL_TASK_QUEUE,
      logger,
    )
  : () => {};
const temporalMetrics = createTemporalMetricsBridge(metrics.registry, temporalMetricsBuffer);
// drained between scrapes too, so a busy worker never fills the buffer (updates past it are dropped)
const drainTimer = setInterval(() => temporalMetrics.drain(), 1_000).unref();
const metricsServer = await startMetricsServer(
  metrics.registry,
  env.WORKER_METRICS_PORT,
  env.WORKER_METRICS_HOST,
  {
    beforeScrape: () => temporalMetrics.drain(),
  },
);
const metricsAddress = metricsServer.address();
const metricsPort =
  typeof metricsAddress === 'object' && metricsAddress ? metricsAddress.port : env.WORKER_METRICS_PORT;
logger.info({ taskQueue: env.TEMPORAL_TASK_QUEUE, metricsPort }, 'worker ready');
// one machine-readable line for the stack launcher
console.log(JSON.stringify({ event: 'worker.ready', metricsPort }));

let stopping = false;
const shutdown = (signal: string) => {
  if (stopping) return;
  stopping = true;
  logger.info({ signal }, 'worker shutting down');
  void webhookDispatcher.stop();
  stopAlertSchedule();
  worker.shutdown();
};
process.on('SIGTERM', () => shutdown('SIGTERM'));
process.on('SIGINT', () => shutdown('SIGINT'));

await worker.run();
await webhookDispatcher.stop();
await webhookSender.close();
clearInterval(drainTimer);
metricsServer.close();
await connection.close();
await sql.end({ timeout: 5 });
logger.info('worker stopped');
