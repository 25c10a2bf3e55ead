import type { Sql } from '@promptmill/infra/db';
import type { Logger } from '@promptmill/infra/logger';
import express, { type Express, type Request } from 'express';
import helmet from 'helmet';
import { authenticate, type Clock } from './auth/authenticate.ts';
import type { ApiEnv } from './env.ts';
import { requireJsonBody } from './http/content-type.ts';
import { errorHandler, notFoundHandler, useSeedErrorShape } from './http/error-handler.ts';
import { type ApiMetrics, httpMetrics } from './http/metrics.ts';
import { requestId } from './http/request-id.ts';
import { adminRoutes } from './routes/admin.routes.ts';
import { docsRoutes } from './routes/docs.routes.ts';
import { healthRoutes } from './routes/health.routes.ts';
import { promptRoutes } from './routes/prompts.routes.ts';
import { syncRunRoutes } from './routes/run.routes.ts';
import { templateRoutes } from './routes/templates.routes.ts';
import type { TemporalHandle } from './temporal.ts';

export interface AppDeps {
  env: ApiEnv;
  sql: Sql;
  temporal: TemporalHandle;
  logger: Logger;
  metrics: ApiMetrics;
  now?: Clock;
}

/** Base paths: every public route is served under both (seed clients use /api/v1). */
export const API_BASES = ['/v1', '/api/v1'] as const;

const FREE_PLAN_ROUTES = /^\/(api\/)?v1\/(me|keys)(\/|$)/;

export function createApp(deps: AppDeps): Express {
  const { env } = deps;
  const app = express();
  app.disable('x-powered-by');
  app.set('trust proxy', env.TRUST_PROXY);
  app.set('etag', false);

  app.use(requestId());
  app.use(httpMetrics(deps.metrics));
  app.use(helmet({ contentSecurityPolicy: false, crossOriginResourcePolicy: false }));
  if (env.LOG_REQUESTS) {
    app.use((req, res, next) => {
      const start = performance.now();
      res.once('finish', () => {
        deps.logger.info(
          {
            requestId: res.locals.requestId,
            method: req.method,
            path: req.path,
            status: res.statusCode,
            ms: Math.round(performance.now() - start),
          },
          'request',
        );
      });
      next();
    });
  }

  app.use(healthRoutes({ sql: deps.sql, temporal: deps.temporal, registry: deps.metrics.registry }));
  app.use(docsRoutes());

  app.use(requireJsonBody((path) => path === '/oauth/token'));
  app.use(express.json({ limit: env.MAX_BODY_BYTES, strict: false }));

  app.use('/admin/v1', adminRoutes({ sql: deps.sql, adminToken: env.ADMIN_TOKEN }));

  const runDeps = {
    sql: deps.sql,
    temporal: deps.temporal,
    retry: { maxAttempts: env.PROVIDER_MAX_ATTEMPTS, initialIntervalMs: env.PROVIDER_RETRY_INITIAL_MS },
    syncTimeoutMs: env.SYNC_RUN_TIMEOUT_MS,
  };
  const auth = authenticate({
    sql: deps.sql,
    ...(deps.now ? { now: deps.now } : {}),
    isFreePlanRoute: (req: Request) => FREE_PLAN_ROUTES.test(req.originalUrl.split('?')[0] ?? ''),
  });
  for (const base of API_BASES) {
    app.use([`${base}/run`, `${base}/agents`], useSeedErrorShape());
    app.use(base, auth);
    app.use(base, syncRunRoutes(runDeps));
    app.use(base, promptRoutes({ sql: deps.sql }));
    app.use(base, templateRoutes({ sql: deps.sql }));
  }

  app.use(notFoundHandler);
  app.use(errorHandler(deps.logger, env.MAX_BODY_BYTES));
  return app;
}
