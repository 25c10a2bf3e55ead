import type { RequestHandler } from 'express';
import { getAuth } from '../auth/auth-context.ts';
import type { Clock } from '../http/clock.ts';
import { refusalError, setRateLimitHeaders } from './limit-response.ts';
import { limitSubject, type RateLimiter } from './limiter.ts';

/**
 * Runs after authentication, billing/plan gates and the origin check, before the route's scope
 * check: the limiter's decision (known refusal in memory → global breaker → shared windows) → headers.
 */
export function rateLimit(limiter: RateLimiter, clock: Clock): RequestHandler {
  return async (_req, res, next) => {
    const now = clock();
    const decision = await limiter.decide(limitSubject(getAuth(res)), now);
    setRateLimitHeaders(res, decision, now);
    if (decision.outcome !== 'admitted') throw refusalError(decision, now);
    next();
  };
}
