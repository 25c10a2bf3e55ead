import type { RequestHandler } from 'express';
import { Counter, collectDefaultMetrics, Histogram, Registry } from 'prom-client';

export interface ApiMetrics {
  registry: Registry;
  httpRequests: Counter<'route' | 'method' | 'status'>;
  httpDuration: Histogram<'route' | 'method'>;
  rateLimitDecisions: Counter<'result'>;
  rateLimitLeases: Histogram;
  rateLimitPermitsReturned: Counter;
  authCacheLookups: Counter<'result'>;
  runDispatch: Counter<'result'>;
}

export function createApiMetrics(): ApiMetrics {
  const registry = new Registry();
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
      help: 'Async run workflow starts by the dispatcher and sweepers (started, already_started, error), and runs failed because none could be started in time (abandoned)',
      labelNames: ['result'],
      registers: [registry],
    }),
  };
}

/** Labels use the matched route template, never the raw path (bounded cardinality). */
export function httpMetrics(metrics: ApiMetrics): RequestHandler {
  return (req, res, next) => {
    const start = process.hrtime.bigint();
    res.once('finish', () => {
      const routePath = req.route?.path;
      const route = typeof routePath === 'string' ? `${req.baseUrl}${routePath}` : 'unmatched';
      const seconds = Number(process.hrtime.bigint() - start) / 1e9;
      metrics.httpRequests.inc({ route, method: req.method, status: String(res.statusCode) });
      metrics.httpDuration.observe({ route, method: req.method }, seconds);
    });
    next();
  };
}
