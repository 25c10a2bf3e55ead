import type { Response } from 'express';
import { AppError, type ErrorDetail } from '../http/app-error.ts';
import type { LimitDecision } from './limiter.ts';
import { rateLimitsBody, secondsUntil, type WindowState } from './windows.ts';

/** How a refusal reads, one way for every caller (the keyed routes' 429 and POST /oauth/token's). */
export type Refusal = Exclude<LimitDecision, { outcome: 'admitted' }>;

const PERIOD_FIELD = { minute: 'requestsPerMinute', hour: 'requestsPerHour', day: 'requestsPerDay' } as const;
const PERIOD_WORD = { minute: 'minute', hour: 'hour', day: 'day (UTC)' } as const;

function setWindowHeaders(res: Response, limit: number, remaining: number, resetAt: Date): void {
  res.setHeader('X-RateLimit-Limit', String(limit));
  res.setHeader('X-RateLimit-Remaining', String(remaining));
  res.setHeader('X-RateLimit-Reset', String(Math.ceil(resetAt.getTime() / 1000)));
}

/**
 * X-RateLimit-* for the window with the fewest requests remaining (or the global breaker's); set before
 * the route runs, so every later response of this request (success or error) carries them.
 */
export function setRateLimitHeaders(res: Response, decision: LimitDecision, now: Date): void {
  if (decision.outcome === 'overloaded') {
    setWindowHeaders(res, decision.perMinute, 0, decision.retryAt);
    return;
  }
  if (decision.outcome === 'unavailable' || !decision.tightest) return;
  const w: WindowState = decision.tightest;
  // a known refusal read from memory: its reset may have passed while the window stayed full
  const resetAt = decision.outcome === 'refused' && w.resetAt <= now ? decision.retryAt : w.resetAt;
  setWindowHeaders(res, w.limit, w.remaining, resetAt);
}

function exceededDetails(exceeded: readonly WindowState[]): ErrorDetail[] {
  return exceeded.map((w) => ({
    field: `rateLimits.${PERIOD_FIELD[w.period]}`,
    message: `${w.scope === 'key' ? 'API key' : 'Organization'} limit of ${w.limit} requests per ${PERIOD_WORD[w.period]} reached`,
  }));
}

/** 429 RATE_LIMITED (a window or the global breaker) or 503 SERVICE_UNAVAILABLE (store down, fail closed). */
export function refusalError(decision: Refusal, now: Date): AppError {
  if (decision.outcome === 'unavailable') {
    return new AppError('SERVICE_UNAVAILABLE', 'Rate limiting is temporarily unavailable; retry shortly', {
      headers: { 'Retry-After': '1' },
    });
  }
  const retryAfter = secondsUntil(decision.retryAt, now);
  const details =
    decision.outcome === 'overloaded'
      ? [{ field: 'global', message: 'This server is over its global request rate; retry shortly' }]
      : exceededDetails(decision.exceeded);
  return new AppError('RATE_LIMITED', 'Rate limit exceeded', {
    details,
    headers: { 'Retry-After': String(retryAfter) },
    extra: { retryAfter, rateLimits: rateLimitsBody(decision.windows) },
  });
}

/** One sentence for error bodies that have no `details` (OAuth2's `error_description`). */
export function refusalSentence(err: AppError): string {
  const reasons = (err.details ?? []).map((d) => d.message).join('; ');
  const retry = err.headers['Retry-After'];
  return `${err.message}${reasons ? `: ${reasons}` : ''}${retry ? `; retry after ${retry} s` : ''}`;
}
