import { admitRequest, deleteExpiredCounters, type Queryable, type Sql } from '@promptmill/infra/db';
import type { Logger } from '@promptmill/infra/logger';
import { isStoreUnavailable } from './store-errors.ts';
import {
  counterWindow,
  type LimitSubject,
  type LimitWindow,
  tightestWindow,
  type WindowState,
  windowState,
  windowsFor,
} from './windows.ts';

export interface RateDecision {
  admitted: boolean;
  windows: LimitWindow[];
  states: WindowState[];
  /** the window with the fewest requests remaining (X-RateLimit-*) */
  tightest: WindowState | undefined;
  /** the windows that refused the request */
  exceeded: WindowState[];
}

/** The counter store is unavailable (unreachable, overloaded, shutting down, or did not answer in time). */
export class RateLimitStoreError extends Error {
  override name = 'RateLimitStoreError';
}

/**
 * One atomic decision over every window of a request (key minute/hour/day, org minute/day), in one
 * round trip, serialized per organization in Postgres: however many api processes there are, a
 * window never admits more than its limit, and a refused request consumes nothing.
 * Throws RateLimitStoreError when the counter store is unavailable or does not answer within
 * `timeoutMs` (RATE_LIMIT_FAIL_MODE applies); any other error (a bug, a bad value) is rethrown as is.
 */
export async function checkRateLimit(
  sql: Queryable,
  subject: LimitSubject,
  now: Date,
  timeoutMs: number,
): Promise<RateDecision> {
  const windows = windowsFor(subject);
  const query = admitRequest(
    sql,
    subject.orgId,
    now,
    windows.map((w) => counterWindow(w, now)),
  );
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    // the abandoned query may still run later and count a request decided without it
    timer = setTimeout(
      () => reject(new RateLimitStoreError(`rate-limit store did not answer within ${timeoutMs} ms`)),
      timeoutMs,
    );
  });
  query.catch(() => {}); // a late failure after the timeout must not become an unhandled rejection
  let result: Awaited<typeof query>;
  try {
    result = await Promise.race([query, timeout]);
  } catch (err) {
    if (err instanceof RateLimitStoreError || !isStoreUnavailable(err)) throw err;
    throw new RateLimitStoreError(err instanceof Error ? err.message : String(err), { cause: err });
  } finally {
    clearTimeout(timer);
  }
  const states = windows.map((w, i) =>
    windowState(w, result.windows[i] ?? { used: 0, resetAt: null, retryAt: null }, now),
  );
  return {
    admitted: result.admitted,
    windows,
    states,
    tightest: tightestWindow(states),
    exceeded: result.admitted ? [] : states.filter((s) => s.used >= s.limit),
  };
}

/** Deletes expired counter rows periodically (never on the request path). */
export function startCounterCleanup(sql: Sql, opts: { intervalMs: number; logger: Logger }): () => void {
  const timer = setInterval(() => {
    deleteExpiredCounters(sql).catch((err: unknown) =>
      opts.logger.warn({ err }, 'rate-limit counter cleanup failed'),
    );
  }, opts.intervalMs);
  timer.unref();
  return () => clearInterval(timer);
}
