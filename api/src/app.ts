import { createSql, type Sql } from '@promptmill/infra/db';
import type { Logger } from '@promptmill/infra/logger';
import express, { type Express, type Request, Router } from 'express';
import helmet from 'helmet';
import { Svix } from 'svix';
import { adminRoutes, requireAdminToken } from './accounts/admin.routes.ts';
import { keyRoutes } from './accounts/keys.routes.ts';
import { meRoutes } from './accounts/me.routes.ts';
import { memberRoutes } from './accounts/members.routes.ts';
import { alertRoutes } from './alerts/alerts.routes.ts';
import { createTokenSigner } from './auth/access-token.ts';
import { authenticate, keyLookupFrom } from './auth/authenticate.ts';
import { type AuthChange, createKeyCache } from './auth/key-cache.ts';
import { type KeyInvalidation, startKeyInvalidation } from './auth/key-invalidation.ts';
import { oauthErrorHandler, oauthRoutes } from './auth/oauth.routes.ts';
import { cors } from './auth/origin.ts';
import { chainRunRoutes } from './chains/chain-runs.routes.ts';
import { chainRoutes } from './chains/chains.routes.ts';
import type { ApiEnv } from './env.ts';
import { type Clock, createAdjustableClock, systemClock } from './http/clock.ts';
import { requireJsonBody } from './http/content-type.ts';
import { mountRoutes, type RouteDef } from './http/define-route.ts';
import { docsAssets, docsRoutes } from './http/docs.routes.ts';
import { errorHandler, notFoundHandler, useSeedErrorShape } from './http/error-handler.ts';
import { healthRoutes } from './http/health.routes.ts';
import { jsonBody } from './http/json-body.ts';
import { methodNotAllowed } from './http/method-not-allowed.ts';
import { type ApiMetrics, httpMetrics } from './http/metrics.ts';
import { openApiDocument } from './http/openapi.ts';
import { requestId } from './http/request-id.ts';
import { createAuthFailureLimiter } from './limits/auth-failures.ts';
import { createGlobalBreaker } from './limits/global-breaker.ts';
import { createRateLimiter } from './limits/limiter.ts';
import { rateLimit } from './limits/rate-limit.middleware.ts';
import { startCounterCleanup } from './limits/rate-limit.ts';
import { createRefusalCache } from './limits/refusal-cache.ts';
import { createUsageRecorder } from './limits/usage-recorder.ts';
import { promptRoutes } from './prompts/prompts.routes.ts';
import { templateRoutes } from './prompts/templates.routes.ts';
import type { DirectMode } from './runs/direct/index.ts';
import { startOrphanSweep } from './runs/direct/leases.ts';
import { createDispatchStore, createRunDispatcher, DISPATCH_TUNING } from './runs/dispatch/index.ts';
import { RESERVATION_SWEEP_INTERVAL_MS, startReservationSweep } from './runs/run-budget.ts';
import { startRunCachePurge } from './runs/run-cache.ts';
import { startRunWorkflowOnce } from './runs/run-workflow.ts';
import { runsRoutes } from './runs/runs.routes.ts';
import { syncRunRoutes } from './runs/sync.routes.ts';
import { createSyncRunAdmission } from './runs/sync-admission.ts';
import type { TemporalHandle } from './temporal.ts';
import { usageRoutes } from './usage/usage.routes.ts';
import { webhookRoutes } from './webhooks/webhooks.routes.ts';

export interface AppDeps {
  env: ApiEnv;
  sql: Sql;
  temporal: TemporalHandle;
  logger: Logger;
  metrics: ApiMetrics;
  now?: Clock;
  /** SYNC_RUN_MODE=direct (main.ts builds it: it loads the provider SDK only then) */
  direct?: DirectMode | undefined;
}

export interface App {
  app: Express;
  /** every route the app serves, as declared (the OpenAPI document is generated from these) */
  routes: readonly RouteDef[];
  /** Stops the app's background work and flushes batched key usage; call once at shutdown. */
  close(): Promise<void>;
}

/** Base paths: every public route is served under both (seed clients use /api/v1). */
export const API_BASES = ['/v1', '/api/v1'] as const;

// Free-plan orgs may read themselves and manage keys (create, list, read, revoke, rotate), nothing else
const FREE_PLAN_ROUTES = /^\/(api\/)?v1\/(me|keys(\/key_[A-Za-z0-9_-]+(\/rotate)?)?)\/?$/;

function requestLog(logger: Logger): express.RequestHandler {
  return (req, res, next) => {
    const start = performance.now();
    res.once('finish', () => {
      logger.info(
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
  };
}

export function createApp(deps: AppDeps): App {
  const { env, sql, logger } = deps;
  const app = express();
  app.disable('x-powered-by');
  app.set('trust proxy', env.TRUST_PROXY);
  app.set('etag', false);

  app.use(requestId());
  app.use(httpMetrics(deps.metrics));
  app.use(helmet({ contentSecurityPolicy: false, crossOriginResourcePolicy: false }));
  if (env.LOG_REQUESTS) app.use(requestLog(logger));

  // One clock for auth expiry, rate-limit windows and tokens; movable only under TEST_CLOCK (NODE_ENV=test).
  const testClock = env.TEST_CLOCK && !deps.now ? createAdjustableClock() : undefined;
  const clock: Clock = deps.now ?? testClock?.now ?? systemClock;
  const signer = createTokenSigner(env.TOKEN_SIGNING_SECRET);
  if (signer.ephemeral) {
    logger.warn(
      'TOKEN_SIGNING_SECRET is unset: OAuth2 access tokens work only on the process that issued them',
    );
  }
  const usage = createUsageRecorder(sql, { intervalMs: env.USAGE_FLUSH_INTERVAL_MS, logger });
  // one limiter for every metered request (keyed routes and token minting), one failure budget per address
  const limiter = createRateLimiter({
    sql,
    enabled: env.RATE_LIMITS_ENABLED,
    failMode: env.RATE_LIMIT_FAIL_MODE,
    timeoutMs: env.RATE_LIMIT_TIMEOUT_MS,
    maxLease: env.RATE_LIMIT_LEASE_MAX,
    clock,
    breaker: createGlobalBreaker(env.GLOBAL_RATE_LIMIT_PER_MINUTE),
    // with leases, unspent permits come back within ~2 s: a known refusal is re-asked after 1 s
    refusals: createRefusalCache(env.RATE_LIMIT_LEASE_MAX > 1 ? { maxHoldMs: 1_000 } : {}),
    usage,
    metrics: deps.metrics,
    logger,
  });
  const failures = createAuthFailureLimiter(env.AUTH_FAILURE_LIMIT_PER_MINUTE);
  // key rows per process, invalidated through Postgres NOTIFY on every change (key-cache.ts)
  let invalidation: KeyInvalidation | undefined;
  const keys = createKeyCache({
    read: keyLookupFrom(sql),
    isLive: () => invalidation?.isLive() ?? false,
    maxAgeMs: env.AUTH_CACHE_MAX_AGE_MS,
    onLookup: (result) => deps.metrics.authCacheLookups.inc({ result }),
  });
  if (env.AUTH_CACHE_MAX_AGE_MS > 0) {
    invalidation = startKeyInvalidation({
      // named with the pid, so an operator (or a test) can tell whose listener a backend is
      connect: () => createSql(env.DATABASE_URL, { max: 1, appName: `promptmill-api-auth:${process.pid}` }),
      cache: keys,
      logger,
    });
  }
  const stopCleanup = startCounterCleanup(sql, { intervalMs: env.RATE_LIMIT_CLEANUP_INTERVAL_MS, logger });
  const stopCachePurge = startRunCachePurge(sql, { intervalMs: env.RUN_CACHE_PURGE_INTERVAL_MS, logger });
  const stopReservationSweep = startReservationSweep(sql, {
    intervalMs: RESERVATION_SWEEP_INTERVAL_MS,
    logger,
  });
  // every api process, either mode, fails the direct runs of a process that stopped (direct/leases.ts)
  const stopOrphanSweep = startOrphanSweep(sql, {
    leaseMs: env.DIRECT_RUN_LEASE_MS,
    logger,
    metrics: deps.direct?.metrics,
  });
  const dispatcher = createRunDispatcher({
    ...DISPATCH_TUNING,
    store: createDispatchStore(sql, { ...DISPATCH_TUNING, giveUpSeconds: env.RUN_DISPATCH_GIVE_UP_SECONDS }),
    start: (input) => startRunWorkflowOnce(deps.temporal, input),
    logger,
    count: (result, n) => deps.metrics.runDispatch.inc({ result }, n),
    concurrency: env.RUN_DISPATCH_CONCURRENCY,
    sweepIntervalMs: env.RUN_DISPATCH_SWEEP_INTERVAL_MS,
    holdMs: env.RUN_DISPATCH_TEST_HOLD_MS,
  });

  const admission = createSyncRunAdmission({
    maxInFlight: env.SYNC_RUN_MAX_IN_FLIGHT,
    targetQueueMs: env.SYNC_RUN_TARGET_QUEUE_MS,
    retryAfterSeconds: 1,
    onShed: () => deps.metrics.syncRunsShed.inc(),
  });
  deps.metrics.readSyncRuns({ inFlight: admission.inFlight, limit: admission.limit });

  const runDeps = {
    sql,
    temporal: deps.temporal,
    retry: { maxAttempts: env.PROVIDER_MAX_ATTEMPTS, initialIntervalMs: env.PROVIDER_RETRY_INITIAL_MS },
    syncTimeoutMs: env.SYNC_RUN_TIMEOUT_MS,
    dispatcher,
    direct: deps.direct?.runner,
    observeQueueDelay: admission.observeQueueDelay,
    webhookAllowPrivate: env.WEBHOOK_ALLOW_PRIVATE,
  };
  const authChanged = async (change: AuthChange) => {
    keys.invalidate(change);
    await invalidation?.settle();
  };
  const accountDeps = { sql, clock, authChanged };

  // The route table: each room declares its routes once; Express and /openapi.json both follow it.
  const publicRoutes = healthRoutes({ sql, temporal: deps.temporal, registry: deps.metrics.registry });
  const admin = adminRoutes({ ...accountDeps, testClock });
  const oauth = oauthRoutes({
    sql,
    clock,
    signer,
    ttlSeconds: env.OAUTH_TOKEN_TTL_SECONDS,
    maxBodyBytes: env.MAX_BODY_BYTES,
    limiter,
    failures,
  });
  const keyed = [
    ...meRoutes(accountDeps),
    ...keyRoutes(accountDeps),
    ...memberRoutes(accountDeps),
    ...syncRunRoutes(runDeps),
    ...runsRoutes(runDeps),
    ...promptRoutes({ sql }),
    ...templateRoutes({ sql }),
    ...webhookRoutes({
      sql,
      temporal: deps.temporal,
      allowPrivate: env.WEBHOOK_ALLOW_PRIVATE,
      svix: env.SVIX_TOKEN
        ? new Svix(env.SVIX_TOKEN, env.SVIX_SERVER_URL ? { serverUrl: env.SVIX_SERVER_URL } : {})
        : undefined,
    }),
    ...chainRoutes({ sql }),
    ...chainRunRoutes({
      sql,
      temporal: deps.temporal,
      retry: runDeps.retry,
      webhookAllowPrivate: env.WEBHOOK_ALLOW_PRIVATE,
    }),
    ...usageRoutes({ sql, clock }),
    ...alertRoutes({ sql }),
  ];
  let document: object | undefined;
  const docs = docsRoutes(() => {
    document ??= openApiDocument(routes.filter((r) => !r.undocumented).map((r) => r.doc));
    return document;
  });
  const routes: RouteDef[] = [...publicRoutes, ...docs, ...admin, ...oauth, ...keyed];

  // before everything that could refuse: preflights carry no key and are answered for any origin
  app.use(['/v1', '/api/v1', '/oauth'], cors());
  app.use(mountRoutes(Router(), [...publicRoutes, ...docs]));
  app.use(docsAssets());

  // the seed-compatible sync run routes keep the seed's error shape from the first check on (body parsing too)
  const syncRunPaths = API_BASES.flatMap((base) => [`${base}/run`, `${base}/agents`]);
  app.use(syncRunPaths, useSeedErrorShape());
  // overload: sync and streaming runs past this process's limit are refused before any work (503)
  app.use(syncRunPaths, admission.middleware);
  app.use(requireJsonBody((path) => path === '/oauth/token'));
  app.use(jsonBody(env.MAX_BODY_BYTES));

  app.use('/admin/v1', requireAdminToken(env.ADMIN_TOKEN));
  app.use(mountRoutes(Router(), admin));
  app.use(mountRoutes(Router(), oauth));
  app.use('/oauth', oauthErrorHandler(logger));

  // authenticate (the address's failure budget → 401s → billing/plan gates → origin) → rate limit
  // (X-RateLimit-* from here on, errors included) → each route's scope check (403 FORBIDDEN) → the route.
  const auth = authenticate({
    keys,
    now: clock,
    signer,
    isFreePlanRoute: (req: Request) => FREE_PLAN_ROUTES.test(req.originalUrl.split('?')[0] ?? ''),
    failures,
  });
  app.use([...API_BASES], auth, rateLimit(limiter, clock));
  app.use(mountRoutes(Router(), keyed));

  app.use(methodNotAllowed(routes));
  app.use(notFoundHandler);
  app.use(errorHandler(logger, env.MAX_BODY_BYTES));

  return {
    app,
    routes,
    async close() {
      stopCleanup();
      stopCachePurge();
      stopReservationSweep();
      stopOrphanSweep();
      await deps.direct?.close();
      // before the Temporal connection closes: async runs accepted so far get their workflows started
      await dispatcher.stop(DISPATCH_TUNING.drainMs);
      await limiter.close(); // gives back unspent leased permits
      await usage.stop();
      await invalidation?.stop();
    },
  };
}
