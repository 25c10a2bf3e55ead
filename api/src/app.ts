import type { Sql } from '@promptmill/infra/db';
import type { Logger } from '@promptmill/infra/logger';
import express, { type Express, type Request } from 'express';
import helmet from 'helmet';
import { createTokenSigner } from './auth/access-token.ts';
import { authenticate, type Clock } from './auth/authenticate.ts';
import { cors } from './auth/origin.ts';
import { startCounterCleanup } from './domain/rate-limit.ts';
import { createDispatchStore, createRunDispatcher, DISPATCH_TUNING } from './domain/run-dispatch.ts';
import { startRunWorkflowOnce } from './domain/runs.ts';
import type { ApiEnv } from './env.ts';
import { requireJsonBody } from './http/content-type.ts';
import { errorHandler, notFoundHandler, useSeedErrorShape } from './http/error-handler.ts';
import { type ApiMetrics, httpMetrics } from './http/metrics.ts';
import { requestId } from './http/request-id.ts';
import { createAdjustableClock, systemClock } from './limits/clock.ts';
import { createGlobalBreaker } from './limits/global-breaker.ts';
import { rateLimit } from './limits/rate-limit.middleware.ts';
import { createUsageRecorder } from './limits/usage-recorder.ts';
import { adminRoutes } from './routes/admin.routes.ts';
import { agentRoutes } from './routes/agents.routes.ts';
import { docsRoutes } from './routes/docs.routes.ts';
import { healthRoutes } from './routes/health.routes.ts';
import { keyRoutes } from './routes/keys.routes.ts';
import { meRoutes } from './routes/me.routes.ts';
import { memberRoutes } from './routes/members.routes.ts';
import { oauthErrorHandler, oauthRoutes } from './routes/oauth.routes.ts';
import { promptRoutes } from './routes/prompts.routes.ts';
import { syncRunRoutes } from './routes/run.routes.ts';
import { runsRoutes } from './routes/runs.routes.ts';
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

// Free-plan orgs may read themselves and manage keys (create, list, read, revoke, rotate), nothing else
const FREE_PLAN_ROUTES = /^\/(api\/)?v1\/(me|keys(\/key_[A-Za-z0-9_-]+(\/rotate)?)?)\/?$/;

const closers = new WeakMap<Express, () => Promise<void>>();

/** Stops the app's background work and flushes batched key usage; call once at shutdown. */
export async function closeApp(app: Express): Promise<void> {
  await closers.get(app)?.();
  closers.delete(app);
}

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

  // One clock for auth expiry, rate-limit windows and tokens; movable only under TEST_CLOCK (NODE_ENV=test).
  const testClock = env.TEST_CLOCK && !deps.now ? createAdjustableClock() : undefined;
  const clock: Clock = deps.now ?? testClock?.now ?? systemClock;
  const signer = createTokenSigner(env.TOKEN_SIGNING_SECRET);
  if (signer.ephemeral) {
    deps.logger.warn(
      'TOKEN_SIGNING_SECRET is unset: OAuth2 access tokens work only on the process that issued them',
    );
  }
  const usage = createUsageRecorder(deps.sql, {
    intervalMs: env.USAGE_FLUSH_INTERVAL_MS,
    logger: deps.logger,
  });
  const stopCleanup = startCounterCleanup(deps.sql, {
    intervalMs: env.RATE_LIMIT_CLEANUP_INTERVAL_MS,
    logger: deps.logger,
  });
  const dispatcher = createRunDispatcher({
    ...DISPATCH_TUNING,
    store: createDispatchStore(deps.sql, {
      ...DISPATCH_TUNING,
      giveUpSeconds: env.RUN_DISPATCH_GIVE_UP_SECONDS,
    }),
    start: (input) => startRunWorkflowOnce(deps.temporal, input),
    logger: deps.logger,
    count: (result, n) => deps.metrics.runDispatch.inc({ result }, n),
    concurrency: env.RUN_DISPATCH_CONCURRENCY,
    sweepIntervalMs: env.RUN_DISPATCH_SWEEP_INTERVAL_MS,
    holdMs: env.RUN_DISPATCH_TEST_HOLD_MS,
  });
  closers.set(app, async () => {
    stopCleanup();
    // before the Temporal connection closes: async runs accepted so far get their workflows started
    await dispatcher.stop(DISPATCH_TUNING.drainMs);
    await usage.stop();
  });

  // before everything that could refuse: preflights carry no key and are answered for any origin
  app.use(['/v1', '/api/v1', '/oauth'], cors());
  app.use(healthRoutes({ sql: deps.sql, temporal: deps.temporal, registry: deps.metrics.registry }));
  app.use(docsRoutes());

  // the seed-compatible sync run routes keep the seed's error shape from the first check on (body parsing too)
  app.use(
    API_BASES.flatMap((base) => [`${base}/run`, `${base}/agents`]),
    useSeedErrorShape(),
  );
  app.use(requireJsonBody((path) => path === '/oauth/token'));
  app.use(express.json({ limit: env.MAX_BODY_BYTES, strict: false }));

  app.use(
    '/admin/v1',
    adminRoutes({ sql: deps.sql, adminToken: env.ADMIN_TOKEN, clock, ...(testClock ? { testClock } : {}) }),
  );
  app.use(
    '/oauth',
    oauthRoutes({
      sql: deps.sql,
      clock,
      signer,
      ttlSeconds: env.OAUTH_TOKEN_TTL_SECONDS,
      maxBodyBytes: env.MAX_BODY_BYTES,
    }),
    oauthErrorHandler(deps.logger),
  );

  const runDeps = {
    sql: deps.sql,
    temporal: deps.temporal,
    retry: { maxAttempts: env.PROVIDER_MAX_ATTEMPTS, initialIntervalMs: env.PROVIDER_RETRY_INITIAL_MS },
    syncTimeoutMs: env.SYNC_RUN_TIMEOUT_MS,
    dispatcher,
  };
  // authenticate (401s → billing/plan gates → origin) → rate limit (X-RateLimit-* from here on, errors
  // included) → each route's requireScope (403 FORBIDDEN) → the route.
  const auth = authenticate({
    sql: deps.sql,
    now: clock,
    signer,
    isFreePlanRoute: (req: Request) => FREE_PLAN_ROUTES.test(req.originalUrl.split('?')[0] ?? ''),
  });
  const limiter = rateLimit({
    sql: deps.sql,
    clock,
    enabled: env.RATE_LIMITS_ENABLED,
    failMode: env.RATE_LIMIT_FAIL_MODE,
    timeoutMs: env.RATE_LIMIT_TIMEOUT_MS,
    breaker: createGlobalBreaker(env.GLOBAL_RATE_LIMIT_PER_MINUTE),
    usage,
    metrics: deps.metrics,
    logger: deps.logger,
  });
  const accountDeps = { sql: deps.sql, clock };
  for (const base of API_BASES) {
    app.use(base, auth);
    app.use(base, limiter);
    app.use(base, meRoutes(accountDeps));
    app.use(base, keyRoutes(accountDeps));
    app.use(base, memberRoutes(accountDeps));
    app.use(base, syncRunRoutes(runDeps));
    app.use(base, agentRoutes(runDeps));
    app.use(base, runsRoutes(runDeps));
    app.use(base, promptRoutes({ sql: deps.sql }));
    app.use(base, templateRoutes({ sql: deps.sql }));
  }

  app.use(notFoundHandler);
  app.use(errorHandler(deps.logger, env.MAX_BODY_BYTES));
  return app;
}
