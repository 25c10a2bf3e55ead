import type { RequestHandler } from 'express';
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';

export interface ApiMetrics {
  registry: Registry;
  httpRequests: Counter<'route' | 'method' | 'status'>;
  httpDuration: Histogram<'route' | 'method'>;
  rateLimitDecisions: Counter<'result'>;
  rateLimitLeases: Histogram;
  rateLimitPermitsReturned: Counter;
  authCacheLookups: Counter<'result'>;
  runDispatch: Counter<'result'>;
  /** sync and streaming runs refused at once because this process had its limit in flight */
  syncRunsShed: Counter;
  /** Where the sync-run gauges read their values at scrape time. */
  readSyncRuns(read: { inFlight: () => number; limit: () => number }): void;
}

export function createApiMetrics(): ApiMetrics {
  const registry = new Registry();
  let syncRuns = { inFlight: () => 0, limit: () => 0 };
  new Gauge({
    name: 'promptmill_sync_runs_in_flight',
    help: 'Sync and streaming runs this api process is handling now',
    registers: [registry],
    collect() {
      this.set(syncRuns.inFlight());
    },
  });
  new Gauge({
    name: 'promptmill_sync_runs_limit',
    help: 'Sync and streaming runs this api process admits at once now: SYNC_RUN_MAX_IN_FLIGHT, lowered while runs wait longer than SYNC_RUN_TARGET_QUEUE_MS for a worker (0: no limit)',
    registers: [registry],
    collect() {
      this.set(syncRuns.limit());
    },
  });
  collectDefaultMetrics({ register: registry, prefix: 'promptmill_api_' });
  return {
    registry,
    httpRequests: new Counter({
      name: 'promptmill_http_requests_total',
      help: 'HTTP requests by route template, method and status',
      labelNames: ['route', 'method', 'status'],
      registers: [registry],
    }),
    httpDuration: new Histogram({
      name: 'promptmill_http_request_duration_seconds',
      help: 'HTTP request duration by route template',
      labelNames: ['route', 'method'],
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
      registers: [registry],
    }),
    rateLimitDecisions: new Counter({
      name: 'promptmill_rate_limit_decisions_total',
      help: 'Rate-limit decisions (allowed, limited, error_open, error_closed; error: a store error that is not an outage, refused with 500)',
      labelNames: ['result'],
      registers: [registry],
    }),
    rateLimitLeases: new Histogram({
      name: 'promptmill_rate_limit_lease_permits',
      help: 'Permits granted per admitting counter-store statement (1: one request decided in Postgres; more: a lease this process admits from memory); _count is the number of such statements',
      buckets: [1, 2, 5, 10, 25, 50, 100, 250, 500, 1000, 5000],
      registers: [registry],
    }),
    rateLimitPermitsReturned: new Counter({
      name: 'promptmill_rate_limit_permits_returned_total',
      help: 'Leased rate-limit permits given back unspent (their lease ended, or the process stopped)',
      registers: [registry],
    }),
    authCacheLookups: new Counter({
      name: 'promptmill_auth_cache_lookups_total',
      help: "Key lookups by authentication: hit (from this process's key cache), miss (read, then cached), bypass (read, not cached: the cache is off or its invalidation listener is not confirmed live)",
      labelNames: ['result'],
      registers: [registry],
    }),
    runDispatch: new Counter({
      name: 'promptmill_run_dispatch_total',
      help: 'Async run workflow starts by the dispatcher and sweepers (started, already_started, error: retried later, refused: the run failed at once), and runs failed because none could be started in time (abandoned)',
      labelNames: ['result'],
      registers: [registry],
    }),
    syncRunsShed: new Counter({
      name: 'promptmill_sync_runs_shed_total',
      help: 'Sync and streaming runs refused with 503 and Retry-After because this api process had its limit in flight (promptmill_sync_runs_limit)',
      registers: [registry],
    }),
    readSyncRuns: (read) => {
      syncRuns = read;
    },
  };
}

/**
 * Labels use the template of the route that took the request (set by mountRoutes), or `unmatched`:
 * never the raw path (bounded cardinality). The method is one Node's HTTP parser accepts.
 */
export function httpMetrics(metrics: ApiMetrics): RequestHandler {
  return (req, res, next) => {
    const start = process.hrtime.bigint();
    res.once('finish', () => {
      const template: unknown = res.locals.routeTemplate;
      const route = typeof template === 'string' ? template : 'unmatched';
      const seconds = Number(process.hrtime.bigint() - start) / 1e9;
      metrics.httpRequests.inc({ route, method: req.method, status: String(res.statusCode) });
      metrics.httpDuration.observe({ route, method: req.method }, seconds);
    });
    next();
  };
}
