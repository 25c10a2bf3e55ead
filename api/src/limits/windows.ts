import { PLAN_REQUEST_LIMITS } from '@promptmill/infra';
import type { CounterWindow, KeyRateLimits, LimitOverrides, Plan, WindowCount } from '@promptmill/infra/db';

/** Plan limits (API.md "Limits and quotas"): the one table, in @promptmill/infra (the worker's alerts read it too). */
export const PLAN_LIMITS: Record<Plan, { perMinute: number; perDay: number }> = PLAN_REQUEST_LIMITS;

export type Period = 'minute' | 'hour' | 'day';
export type LimitScope = 'key' | 'org';

/**
 * Slot sizes: a rolling minute sums 1 s slots, a rolling hour 1 min slots, a day is one slot per UTC
 * calendar day (slots are aligned to the Unix epoch, so a 86 400 s slot starts at UTC midnight).
 * A slot of a rolling window counts until its latest request is a full window old (migration 005), so no
 * rolling window ever admits more than its limit (not even a burst straddling an edge), and a refusal
 * never asks for more than one window: a rolling minute at most 60 s, a rolling hour at most 3600 s.
 */
export const PERIODS: Record<Period, { slotMs: number; windowMs: number }> = {
  minute: { slotMs: 1_000, windowMs: 60_000 },
  hour: { slotMs: 60_000, windowMs: 3_600_000 },
  day: { slotMs: 86_400_000, windowMs: 0 },
};

/** The largest limit the shared counters hold (Postgres int4); larger overrides are refused. */
export const MAX_REQUEST_LIMIT = 2_147_483_647;

export interface LimitWindow {
  scope: LimitScope;
  period: Period;
  limit: number;
  bucket: string;
}

export function effectiveOrgLimits(
  plan: Plan,
  overrides: LimitOverrides,
): { perMinute: number; perDay: number } {
  const base = PLAN_LIMITS[plan];
  return { perMinute: overrides.perMinute ?? base.perMinute, perDay: overrides.perDay ?? base.perDay };
}

export interface LimitSubject {
  keyId: string;
  keyLimits: KeyRateLimits;
  orgId: string;
  plan: Plan;
  overrides: LimitOverrides;
}

/**
 * A stored limit above what the counters hold (written before the admin API refused such values) is the
 * largest one they do hold: it never refuses anything either, and the admission statement still runs.
 */
const fitting = (limit: number) => Math.min(limit, MAX_REQUEST_LIMIT);

/** Every window that applies to a request: the key's own (optional) and its organization's. */
export function windowsFor(s: LimitSubject): LimitWindow[] {
  const org = effectiveOrgLimits(s.plan, s.overrides);
  const windows: LimitWindow[] = [];
  const keyPeriods: [Period, number | undefined][] = [
    ['minute', s.keyLimits.perMinute],
    ['hour', s.keyLimits.perHour],
    ['day', s.keyLimits.perDay],
  ];
  for (const [period, limit] of keyPeriods) {
    if (limit !== undefined) {
      windows.push({ scope: 'key', period, limit: fitting(limit), bucket: `k:${s.keyId}:${period}` });
    }
  }
  windows.push({
    scope: 'org',
    period: 'minute',
    limit: fitting(org.perMinute),
    bucket: `o:${s.orgId}:minute`,
  });
  windows.push({ scope: 'org', period: 'day', limit: fitting(org.perDay), bucket: `o:${s.orgId}:day` });
  return windows;
}

/** The effective limit per period (the tighter of key and org), as the 429 body's `rateLimits`. */
export function rateLimitsBody(windows: LimitWindow[]): {
  requestsPerMinute: number | null;
  requestsPerHour: number | null;
  requestsPerDay: number | null;
} {
  const tightest = (period: Period) => {
    const limits = windows.filter((w) => w.period === period).map((w) => w.limit);
    return limits.length > 0 ? Math.min(...limits) : null;
  };
  return {
    requestsPerMinute: tightest('minute'),
    requestsPerHour: tightest('hour'),
    requestsPerDay: tightest('day'),
  };
}

/** The shortest slot of any period; every slot is a multiple of it, aligned to the epoch. */
const LEASE_SLOT_MS = Math.min(...Object.values(PERIODS).map((p) => p.slotMs));

/**
 * Until when permits leased at `now` may be spent: the end of the current 1 s slot, which is within the
 * current slot of every window (migration 009). Permits leased at `now` are counted in the slots of `now`
 * and stop counting a full window after this instant, so a permit spent at any instant before it counts
 * for at least a window after that instant.
 */
export function leaseEnd(now: Date): Date {
  return new Date((Math.floor(now.getTime() / LEASE_SLOT_MS) + 1) * LEASE_SLOT_MS);
}

/** The slot arithmetic for one window at `now` (what the SQL functions sum and increment). */
export function counterWindow(w: LimitWindow, now: Date): CounterWindow {
  const { slotMs, windowMs } = PERIODS[w.period];
  const t = now.getTime();
  const slotStart = Math.floor(t / slotMs) * slotMs;
  const end = leaseEnd(now).getTime();
  return {
    bucket: w.bucket,
    slotStart: new Date(slotStart),
    from: new Date(t - windowMs - slotMs),
    expiresAt: latestExpiry(w.period, now),
    leaseExpiresAt: windowMs > 0 ? new Date(end + windowMs) : latestExpiry(w.period, now),
    limit: w.limit,
  };
}

/**
 * When a request made at `now` stops counting: a window later for a rolling window, the next UTC
 * midnight for a day. Nothing counted at `now` stops counting later than this (it was made earlier).
 */
export function latestExpiry(period: Period, now: Date): Date {
  const { slotMs, windowMs } = PERIODS[period];
  const t = now.getTime();
  return new Date(windowMs > 0 ? t + windowMs : (Math.floor(t / slotMs) + 1) * slotMs);
}

export interface WindowState extends LimitWindow {
  used: number;
  remaining: number;
  /** when capacity next frees up (the earliest counted expiry); next UTC midnight for a day */
  resetAt: Date;
  /** for a full window: when it admits again */
  retryAt: Date | null;
}

/**
 * A window's state from the store's counts. Times are capped at `latestExpiry(now)`: a stored expiry is
 * later only when another process's clock runs ahead of this one's (by that skew) or the row was written
 * before migration 005 (by at most one slot, during the upgrade). The cap keeps Retry-After within one
 * window (a day: within the seconds to midnight); in those two cases a retry at that time may be refused
 * once more, with a fresh Retry-After.
 */
export function windowState(w: LimitWindow, count: WindowCount, now: Date): WindowState {
  const latest = latestExpiry(w.period, now);
  const capped = (d: Date | null) => (d === null || d > latest ? latest : d);
  const resetAt = capped(count.resetAt);
  const full = count.used >= w.limit;
  const retryAt = full ? capped(count.retryAt ?? count.resetAt) : null;
  return { ...w, used: count.used, remaining: Math.max(0, w.limit - count.used), resetAt, retryAt };
}

/** The window with the fewest requests remaining (ties: the smaller limit), for X-RateLimit-*. */
export function tightestWindow(states: WindowState[]): WindowState | undefined {
  let best: WindowState | undefined;
  for (const s of states) {
    if (!best || s.remaining < best.remaining || (s.remaining === best.remaining && s.limit < best.limit)) {
      best = s;
    }
  }
  return best;
}

/** Whole seconds until `at`, at least 1 (Retry-After must be a positive integer). */
export function secondsUntil(at: Date, now: Date): number {
  return Math.max(1, Math.ceil((at.getTime() - now.getTime()) / 1000));
}
