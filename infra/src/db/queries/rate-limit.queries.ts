import type { Queryable } from '../client.ts';

/**
 * One window of one request: a bucket of fixed-size slots (see migrations 002_rate_limits.sql,
 * 005_limits_hardening.sql and 009_auth_cache_and_leases.sql).
 */
export interface CounterWindow {
  bucket: string;
  /** start of the slot `now` falls in (where the request is recorded) */
  slotStart: Date;
  /** slots starting after this instant (exclusive) may count, later ones included (the index range) */
  from: Date;
  /** when this request stops counting (now + window; the next UTC midnight for a day); its slot counts
   * until the latest such instant of its requests */
  expiresAt: Date;
  /** when the permits of a lease taken now stop counting: the lease's end + window (the next UTC
   * midnight for a day); see migration 009 */
  leaseExpiresAt: Date;
  limit: number;
}

export interface WindowCount {
  /** count after this decision (incremented when admitted) */
  used: number;
  /** when capacity next frees up: the earliest expiry that still counts; null when the window is empty */
  resetAt: Date | null;
  /** for a full window: when it admits again; null otherwise */
  retryAt: Date | null;
}

export interface LeaseRequest {
  /** the admission lock: the organization id */
  lock: string;
  now: Date;
  windows: CounterWindow[];
  /** permits wanted (at least 1: the asking request's) */
  want: number;
  /** a lease takes at most 1/share of the tightest window's room (at least one permit) */
  share: number;
  /** unspent permits of this process's previous lease over the same windows, given back first */
  returned?: { count: number; slotStarts: Date[] };
}

export interface LeaseResult {
  /** permits granted for every window (0 = refused) */
  granted: number;
  windows: WindowCount[];
}

/**
 * Takes up to `want` permits of every window at once, or none, in one round trip (one call of
 * promptmill_rate_limit_lease, migration 009), after giving back `returned`. With want = 1 it is the
 * single admission of migration 005.
 */
export async function leasePermits(sql: Queryable, req: LeaseRequest): Promise<LeaseResult> {
  const { windows } = req;
  if (windows.length === 0) return { granted: req.want, windows: [] };
  const returned = req.returned && req.returned.count > 0 ? req.returned : undefined;
  const iso = (dates: Date[]) => dates.map((d) => d.toISOString());
  const rows = await sql<{ used: number; reset_at: Date | null; retry_at: Date | null; granted: number }[]>`
    SELECT used, reset_at, retry_at, granted FROM promptmill_rate_limit_lease(
      ${req.lock},
      ${req.now.toISOString()}::timestamptz,
      ${windows.map((w) => w.bucket)}::text[],
      ${iso(windows.map((w) => w.slotStart))}::timestamptz[],
      ${iso(windows.map((w) => w.from))}::timestamptz[],
      ${iso(windows.map((w) => w.expiresAt))}::timestamptz[],
      ${iso(windows.map((w) => w.leaseExpiresAt))}::timestamptz[],
      ${windows.map((w) => w.limit)}::integer[],
      ${req.want}::integer,
      ${req.share}::integer,
      ${returned?.count ?? 0}::integer,
      ${iso(returned?.slotStarts ?? windows.map((w) => w.slotStart))}::timestamptz[])`;
  return {
    granted: rows[0]?.granted ?? 0,
    windows: rows.map((r) => ({ used: r.used, resetAt: r.reset_at, retryAt: r.retry_at })),
  };
}

/** Leased permits given back: `count` from slot `slotStart` of `bucket` (organization `lock`). */
export interface ReleasedPermits {
  lock: string;
  bucket: string;
  slotStart: Date;
  count: number;
}

/** Gives back unspent leased permits, many leases in one round trip (promptmill_rate_limit_release). */
export async function releasePermits(sql: Queryable, released: ReleasedPermits[]): Promise<void> {
  if (released.length === 0) return;
  await sql`
    SELECT promptmill_rate_limit_release(
      ${released.map((r) => r.lock)}::text[],
      ${released.map((r) => r.bucket)}::text[],
      ${released.map((r) => r.slotStart.toISOString())}::timestamptz[],
      ${released.map((r) => r.count)}::integer[])`;
}

/** Current counts without admitting anything (GET /v1/me). */
export async function peekCounters(
  sql: Queryable,
  now: Date,
  windows: Pick<CounterWindow, 'bucket' | 'from'>[],
): Promise<Pick<WindowCount, 'used' | 'resetAt'>[]> {
  if (windows.length === 0) return [];
  const rows = await sql<{ used: number; reset_at: Date | null }[]>`
    SELECT used, reset_at FROM promptmill_rate_limit_peek(
      ${now.toISOString()}::timestamptz,
      ${windows.map((w) => w.bucket)}::text[],
      ${windows.map((w) => w.from.toISOString())}::timestamptz[])`;
  return rows.map((r) => ({ used: r.used, resetAt: r.reset_at }));
}

/**
 * Deletes counter rows that no window can count any more, at most `batch` per call.
 * Uses the database clock with a margin, never an api's (possibly test-shifted) clock, so a
 * process whose clock runs ahead can never delete counters other processes still count.
 */
export async function deleteExpiredCounters(sql: Queryable, batch = 5000): Promise<number> {
  const result = await sql`
    DELETE FROM rate_limit_counters
    WHERE ctid IN (
      SELECT ctid FROM rate_limit_counters
      WHERE expires_at < now() - interval '5 minutes'
      LIMIT ${batch})`;
  return result.count;
}
