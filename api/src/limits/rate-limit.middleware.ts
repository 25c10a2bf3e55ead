import type { Sql } from '@promptmill/infra/db';
import type { Logger } from '@promptmill/infra/logger';
import type { RequestHandler, Response } from 'express';
import { getAuth } from '../auth/auth-context.ts';
import { AppError, type ErrorDetail } from '../http/app-error.ts';
import type { Clock } from '../http/clock.ts';
import type { ApiMetrics } from '../http/metrics.ts';
import type { GlobalBreaker } from './global-breaker.ts';
import { checkRateLimit, type RateDecision } from './rate-limit.ts';
import type { UsageRecorder } from './usage-recorder.ts';
import { type LimitWindow, rateLimitsBody, secondsUntil, type WindowState, windowsFor } from './windows.ts';

export interface RateLimitOptions {
  sql: Sql;
  clock: Clock;
  enabled: boolean;
  failMode: 'open' | 'closed';
  timeoutMs: number;
  breaker: GlobalBreaker;
  usage: UsageRecorder;
  metrics: ApiMetrics;
  logger: Logger;
}

const PERIOD_FIELD = { minute: 'requestsPerMinute', hour: 'requestsPerHour', day: 'requestsPerDay' } as const;
const PERIOD_WORD = { minute: 'minute', hour: 'hour', day: 'day (UTC)' } as const;

/** X-RateLimit-* for the window with the fewest requests remaining; set before the route runs, so
 * every later response of this request (success or error) carries them. */
function setRateLimitHeaders(res: Response, w: WindowState): void {
  res.setHeader('X-RateLimit-Limit', String(w.limit));
  res.setHeader('X-RateLimit-Remaining', String(w.remaining));
  res.setHeader('X-RateLimit-Reset', String(Math.ceil(w.resetAt.getTime() / 1000)));
}

function rateLimited(retryAfter: number, details: ErrorDetail[], windows: LimitWindow[]): AppError {
  return new AppError('RATE_LIMITED', 'Rate limit exceeded', {
    details,
    headers: { 'Retry-After': String(retryAfter) },
    extra: { retryAfter, rateLimits: rateLimitsBody(windows) },
  });
}

function exceededDetails(decision: RateDecision): ErrorDetail[] {
  return decision.exceeded.map((w) => ({
    field: `rateLimits.${PERIOD_FIELD[w.period]}`,
    message: `${w.scope === 'key' ? 'API key' : 'Organization'} limit of ${w.limit} requests per ${PERIOD_WORD[w.period]} reached`,
  }));
}

/**
 * Runs after authentication, billing/plan gates and the origin check, before the route's scope
 * check: global breaker (in memory) → shared windows (one Postgres round trip) → headers.
 */
export function rateLimit(opts: RateLimitOptions): RequestHandler {
  const count = (result: 'allowed' | 'limited' | 'error_open' | 'error_closed') =>
    opts.metrics.rateLimitDecisions.inc({ result });

  return async (_req, res, next) => {
    const auth = getAuth(res);
    const now = opts.clock();
    if (!opts.enabled) {
      opts.usage.recordUse(auth.key.id, now);
      return next();
    }
    const subject = {
      keyId: auth.key.id,
      keyLimits: auth.key.rateLimits,
      orgId: auth.org.id,
      plan: auth.org.plan,
      overrides: auth.org.limits,
    };

    const global = opts.breaker.take();
    if (!global.ok) {
      count('limited');
      opts.usage.recordLimited(auth.key.id, now);
      const retryAfter = Math.max(1, Math.ceil(global.retryInMs / 1000));
      res.setHeader('X-RateLimit-Limit', String(opts.breaker.perMinute));
      res.setHeader('X-RateLimit-Remaining', '0');
      res.setHeader('X-RateLimit-Reset', String(Math.ceil((now.getTime() + global.retryInMs) / 1000)));
      throw rateLimited(
        retryAfter,
        [{ field: 'global', message: 'This server is over its global request rate; retry shortly' }],
        windowsFor(subject),
      );
    }

    let decision: RateDecision;
    try {
      decision = await checkRateLimit(opts.sql, subject, now, opts.timeoutMs);
    } catch (err) {
      opts.logger.warn({ err, failMode: opts.failMode }, 'rate-limit store unavailable');
      if (opts.failMode === 'open') {
        count('error_open');
        opts.usage.recordUse(auth.key.id, now);
        return next();
      }
      count('error_closed');
      throw new AppError('SERVICE_UNAVAILABLE', 'Rate limiting is temporarily unavailable; retry shortly', {
        headers: { 'Retry-After': '1' },
      });
    }

    if (decision.tightest) setRateLimitHeaders(res, decision.tightest);
    if (!decision.admitted) {
      count('limited');
      opts.usage.recordLimited(auth.key.id, now);
      const retryAt =
        decision.exceeded.length > 0
          ? Math.max(...decision.exceeded.map((w) => (w.retryAt ?? w.resetAt).getTime()))
          : now.getTime() + 1000;
      throw rateLimited(secondsUntil(new Date(retryAt), now), exceededDetails(decision), decision.windows);
    }
    count('allowed');
    opts.usage.recordUse(auth.key.id, now);
    next();
  };
}
