import {
  deleteExpiredCounters,
  type LeaseResult,
  leasePermits,
  type Queryable,
  type ReleasedPermits,
  releasePermits,
  type Sql,
} from '@promptmill/infra/db';
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

/** Rejects with RateLimitStoreError when `query` is not answered within `timeoutMs` or the store is down. */
async function withinTimeout<T>(query: Promise<T>, timeoutMs: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    // the abandoned query may still run later: it then counts permits nobody spends (never too many)
    timer = setTimeout(
      () => reject(new RateLimitStoreError(`rate-limit store did not answer within ${timeoutMs} ms`)),
      timeoutMs,
    );
  });
  query.catch(() => {}); // a late failure after the timeout must not become an unhandled rejection
  try {
    return await Promise.race([query, timeout]);
  } catch (err) {
    if (err instanceof RateLimitStoreError || !isStoreUnavailable(err)) throw err;
    throw new RateLimitStoreError(err instanceof Error ? err.message : String(err), { cause: err });
  } finally {
    clearTimeout(timer);
  }
}

/** What a process asks of the counter store for one set of windows (see takePermits). */
export interface PermitRequest {
  /** the admission lock: the organization id */
  lock: string;
  windows: LimitWindow[];
  now: Date;
  want: number;
  share: number;
  /** unspent permits of the previous lease over the same windows, and the slots they were counted in */
  returned?: { count: number; slotStarts: Date[] };
}

export interface PermitDecision extends RateDecision {
  /** permits granted (0 when refused): one for the asking request, the rest to spend until `leaseEnd` */
  granted: number;
  /** per window, the slot the permits were counted in (where unspent ones are given back) */
  slotStarts: Date[];
}

/**
 * One atomic decision over every window of a request (key minute/hour/day, org minute/day), in one
 * round trip, serialized per organization in Postgres: up to `want` permits for all windows, or none.
 * However many api processes there are, a window never counts more than its limit, and a refused request
 * consumes nothing. `tightest` and `states` describe the windows with every granted permit counted.
 * Throws RateLimitStoreError when the counter store is unavailable or does not answer within
 * `timeoutMs` (RATE_LIMIT_FAIL_MODE applies); any other error (a bug, a bad value) is rethrown as is.
 */
export async function takePermits(
  sql: Queryable,
  req: PermitRequest,
  timeoutMs: number,
): Promise<PermitDecision> {
  const counters = req.windows.map((w) => counterWindow(w, req.now));
  const result: LeaseResult = await withinTimeout(
    leasePermits(sql, {
      lock: req.lock,
      now: req.now,
      windows: counters,
      want: req.want,
      share: req.share,
      ...(req.returned ? { returned: req.returned } : {}),
    }),
    timeoutMs,
  );
  const states = req.windows.map((w, i) =>
    windowState(w, result.windows[i] ?? { used: 0, resetAt: null, retryAt: null }, req.now),
  );
  const admitted = result.granted > 0;
  return {
    admitted,
    granted: result.granted,
    slotStarts: counters.map((c) => c.slotStart),
    windows: req.windows,
    states,
    tightest: tightestWindow(states),
    exceeded: admitted ? [] : states.filter((s) => s.used >= s.limit),
  };
}

/** One request's admission (one permit, no lease): what every process did per request before leases. */
export async function checkRateLimit(
  sql: Queryable,
  subject: LimitSubject,
  now: Date,
  timeoutMs: number,
): Promise<RateDecision> {
  const windows = windowsFor(subject);
  const d = await takePermits(sql, { lock: subject.orgId, windows, now, want: 1, share: 1 }, timeoutMs);
  return { admitted: d.admitted, windows, states: d.states, tightest: d.tightest, exceeded: d.exceeded };
}

/** Gives back unspent leased permits (one round trip for many leases); same timeout rules. */
export async function returnPermits(
  sql: Queryable,
  released: ReleasedPermits[],
  timeoutMs: number,
): Promise<void> {
  await withinTimeout(releasePermits(sql, released), timeoutMs);
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
