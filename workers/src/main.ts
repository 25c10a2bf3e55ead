import { createSql } from '@promptmill/infra/db';
import { createLogger } from '@promptmill/infra/logger';
import { DefaultLogger, Runtime } from '@temporalio/worker';
import { loadWorkerEnv } from './env.ts';
import { hostRunWorker } from './host.ts';
import { startMetricsServer } from './metrics-server.ts';

const env = loadWorkerEnv();
const logger = createLogger('worker', env.LOG_LEVEL);
Runtime.install({ logger: new DefaultLogger(env.LOG_LEVEL === 'debug' ? 'DEBUG' : 'WARN') });

const sql = createSql(env.DATABASE_URL, { max: env.DB_POOL_MAX, appName: 'promptmill-worker' });
const { connection, worker, metrics } = await hostRunWorker(env, sql);
const metricsServer = await startMetricsServer(
  metrics.registry,
  env.WORKER_METRICS_PORT,
  env.WORKER_METRICS_HOST,
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
  worker.shutdown();
};
process.on('SIGTERM', () => shutdown('SIGTERM'));
process.on('SIGINT', () => shutdown('SIGINT'));

await worker.run();
metricsServer.close();
await connection.close();
await sql.end({ timeout: 5 });
logger.info('worker stopped');
