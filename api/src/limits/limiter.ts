import type { Sql } from '@promptmill/infra/db';
import type { Logger } from '@promptmill/infra/logger';
import type { AuthContext } from '../auth/auth-context.ts';
import { AppError } from '../http/app-error.ts';
import type { ApiMetrics } from '../http/metrics.ts';
import type { GlobalBreaker } from './global-breaker.ts';
import { createPermitLeases, type LeaseDecision } from './permit-leases.ts';
import { RateLimitStoreError, returnPermits, takePermits } from './rate-limit.ts';
import type { RefusalCache } from './refusal-cache.ts';
import type { UsageRecorder } from './usage-recorder.ts';
import {
  type LimitSubject,
  type LimitWindow,
  tightestWindow,
  type WindowState,
  windowsFor,
} from './windows.ts';

/** The outcome of one request (an API call or a token minted) against every limit that applies to it. */
export type LimitDecision =
  | {
      outcome: 'admitted';
      windows: LimitWindow[];
      /** for X-RateLimit-*; undefined when limits are off or the store was unavailable (fail open) */
      tightest: WindowState | undefined;
    }
  | {
      outcome: 'refused';
      windows: LimitWindow[];
      /** the windows that refused it */
      exceeded: WindowState[];
      tightest: WindowState | undefined;
      retryAt: Date;
      /** answered from a known refusal, without asking the store */
      known: boolean;
    }
  /** the per-process global breaker is out of tokens */
  | { outcome: 'overloaded'; windows: LimitWindow[]; perMinute: number; retryAt: Date }
  /** the counter store is unavailable and RATE_LIMIT_FAIL_MODE=closed */
  | { outcome: 'unavailable' };

/**
 * Every rate-limit decision goes through here (the keyed routes' middleware and POST /oauth/token), in
 * this order: a known refusal from memory → the per-process breaker → a permit this process leased from
 * the shared windows → the shared windows in Postgres (which lease the next permits). Memory only ever
 * refuses or spends permits the store counted, so limits are exact across processes.
 */
export interface RateLimiter {
  decide(subject: LimitSubject, now: Date): Promise<LimitDecision>;
  /** Gives back unspent leased permits and stops the lease sweep (shutdown). */
  close(): Promise<void>;
}

export interface RateLimiterOptions {
  sql: Sql;
  enabled: boolean;
  failMode: 'open' | 'closed';
  timeoutMs: number;
  /** the most permits one lease may take (RATE_LIMIT_LEASE_MAX); 1 = one store decision per request */
  maxLease: number;
  /** the process clock (the lease sweep's; requests bring their own `now`) */
  clock?: () => Date;
  /** how often ended leases are given back; 0 = only at close (tests) */
  sweepIntervalMs?: number;
  breaker: GlobalBreaker;
  refusals: RefusalCache;
  usage: UsageRecorder;
  metrics: ApiMetrics;
  logger: Logger;
}

/** A lease takes at most 1/8 of the tightest window's room: several processes share a window. */
export const LEASE_SHARE = 8;

type DecisionMetric = 'allowed' | 'limited' | 'error_open' | 'error_closed' | 'error';

export function limitSubject(auth: Pick<AuthContext, 'key' | 'org'>): LimitSubject {
  return {
    keyId: auth.key.id,
    keyLimits: auth.key.rateLimits,
    orgId: auth.org.id,
    plan: auth.org.plan,
    overrides: auth.org.limits,
  };
}

/** When every refusing window admits again (the latest of their retry times). */
function retryTime(exceeded: readonly WindowState[], now: Date): Date {
  if (exceeded.length === 0) return new Date(now.getTime() + 1_000);
  return new Date(Math.max(...exceeded.map((w) => (w.retryAt ?? w.resetAt).getTime())));
}

export function createRateLimiter(opts: RateLimiterOptions): RateLimiter {
  const count = (result: DecisionMetric) => opts.metrics.rateLimitDecisions.inc({ result });
  const permits = createPermitLeases({
    take: (req) => takePermits(opts.sql, req, opts.timeoutMs),
    release: (released) => returnPermits(opts.sql, released, opts.timeoutMs),
    maxLease: opts.maxLease,
    share: LEASE_SHARE,
    clock: opts.clock ?? (() => new Date()),
    sweepIntervalMs: opts.sweepIntervalMs ?? 1_000,
    onLeased: (granted) => opts.metrics.rateLimitLeases.observe(granted),
    onReturned: (n) => opts.metrics.rateLimitPermitsReturned.inc(n),
    onReleaseError: (err, n) =>
      opts.logger.warn({ err, permits: n }, 'giving back unspent rate-limit permits failed'),
  });

  const refused = (
    subject: LimitSubject,
    windows: LimitWindow[],
    exceeded: WindowState[],
    tightest: WindowState | undefined,
    now: Date,
    known: boolean,
  ): LimitDecision => {
    const retryAt = retryTime(exceeded, now);
    count('limited');
    opts.usage.recordLimited(subject.keyId, now, retryAt);
    return { outcome: 'refused', windows, exceeded, tightest, retryAt, known };
  };

  return {
    async decide(subject, now) {
      if (!opts.enabled) {
        opts.usage.recordUse(subject.keyId, now);
        return { outcome: 'admitted', windows: [], tightest: undefined };
      }
      const windows = windowsFor(subject);
      const known = opts.refusals.refusing(windows, now);
      if (known.length > 0) return refused(subject, windows, known, tightestWindow(known), now, true);

      const global = opts.breaker.take();
      if (!global.ok) {
        count('limited');
        const retryAt = new Date(now.getTime() + global.retryInMs);
        return { outcome: 'overloaded', windows, perMinute: opts.breaker.perMinute, retryAt };
      }

      let decision: LeaseDecision;
      try {
        decision = await permits.admit(subject.orgId, windows, now);
      } catch (err) {
        opts.breaker.refund();
        if (!(err instanceof RateLimitStoreError)) {
          // a bug or a bad value, not an outage: never admit unmetered because of it
          count('error');
          opts.logger.error({ err, orgId: subject.orgId }, 'rate-limit decision failed; request refused');
          throw new AppError('INTERNAL_ERROR', 'Internal server error');
        }
        opts.logger.warn({ err, failMode: opts.failMode }, 'rate-limit store unavailable');
        if (opts.failMode === 'closed') {
          count('error_closed');
          return { outcome: 'unavailable' };
        }
        count('error_open');
        opts.usage.recordUse(subject.keyId, now);
        return { outcome: 'admitted', windows, tightest: undefined };
      }

      if (!decision.admitted) {
        opts.breaker.refund();
        opts.refusals.remember(decision.exceeded, now);
        return refused(subject, windows, decision.exceeded, decision.tightest, now, false);
      }
      count('allowed');
      opts.usage.recordUse(subject.keyId, now);
      return { outcome: 'admitted', windows, tightest: decision.tightest };
    },
    close: () => permits.close(),
  };
}
