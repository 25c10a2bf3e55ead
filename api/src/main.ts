import type { Server } from 'node:http';
import { createSql, runMigrations } from '@promptmill/infra/db';
import { createLogger } from '@promptmill/infra/logger';
import { Registry } from 'prom-client';
import { createApp } from './app.ts';
import { startEmbeddedWorker } from './embedded-worker.ts';
import { loadApiEnv } from './env.ts';
import { createApiMetrics } from './http/metrics.ts';
import { connectTemporal } from './temporal.ts';

const env = loadApiEnv();
const logger = createLogger('api', env.LOG_LEVEL);
const sql = createSql(env.DATABASE_URL, { max: env.DB_POOL_MAX, appName: 'promptmill-api' });
await runMigrations(sql);
const embedded = env.API_EMBEDDED_WORKER ? await startEmbeddedWorker(sql, logger) : undefined;
const temporal = await connectTemporal(env, embedded?.connection);
const metrics = createApiMetrics();
if (embedded) metrics.registry = Registry.merge([metrics.registry, embedded.registry]);
// direct mode's provider code is loaded only when it is on (never with an embedded worker: env.ts)
const direct =
  env.SYNC_RUN_MODE === 'direct'
    ? await (await import('./runs/direct/index.ts')).createDirectMode({
        env,
        sql,
        logger,
        registry: metrics.registry,
      })
    : undefined;
const { app, close } = createApp({ env, sql, temporal, logger, metrics, direct });

const server: Server = await new Promise((resolve) => {
  const s = app.listen(env.PORT, env.HOST, () => resolve(s));
});
server.keepAliveTimeout = 65_000;
const address = server.address();
const port = typeof address === 'object' && address ? address.port : env.PORT;
logger.info({ port, host: env.HOST, syncRunMode: env.SYNC_RUN_MODE }, 'api listening');
// one machine-readable line for the stack launcher
console.log(JSON.stringify({ event: 'api.ready', port }));

let stopping = false;
async function shutdown(signal: string): Promise<void> {
  if (stopping) return;
  stopping = true;
  logger.info({ signal }, 'api draining');
  const closed = new Promise<void>((resolve) => server.close(() => resolve()));
  server.closeIdleConnections();
  // in-flight requests (sync runs) get up to 25 s to finish, then the rest are cut
  const timer = setTimeout(() => server.closeAllConnections(), 25_000);
  await closed;
  clearTimeout(timer);
  await close(); // drains async-run dispatch, flushes batched key usage
  await embedded?.stop();
  await temporal.connection.close();
  await sql.end({ timeout: 5 });
  logger.info('api stopped');
  process.exit(0);
}
process.on('SIGTERM', () => void shutdown('SIGTERM'));
process.on('SIGINT', () => void shutdown('SIGINT'));
