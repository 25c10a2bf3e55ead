import type { Queryable } from '../client.ts';

/**
 * One window of one request: a bucket of fixed-size slots (see migrations 002_rate_limits.sql and
 * 005_limits_hardening.sql).
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

export interface AdmitResult {
  admitted: boolean;
  windows: WindowCount[];
}

/**
 * Atomically checks every window and increments all of them or none, in one round trip (one call
 * of promptmill_rate_limit_admit). `lock` groups the windows that must be serialized together:
 * the organization id. `now` is the decision's clock (a slot counts while its expiry is after it).
 */
export async function admitRequest(
  sql: Queryable,
  lock: string,
  now: Date,
  windows: CounterWindow[],
): Promise<AdmitResult> {
  if (windows.length === 0) return { admitted: true, windows: [] };
  const rows = await sql<{ used: number; reset_at: Date | null; retry_at: Date | null; admitted: boolean }[]>`
    SELECT used, reset_at, retry_at, admitted FROM promptmill_rate_limit_admit(
      ${lock},
      ${now.toISOString()}::timestamptz,
      ${windows.map((w) => w.bucket)}::text[],
      ${windows.map((w) => w.slotStart.toISOString())}::timestamptz[],
      ${windows.map((w) => w.from.toISOString())}::timestamptz[],
      ${windows.map((w) => w.expiresAt.toISOString())}::timestamptz[],
      ${windows.map((w) => w.limit)}::integer[])`;
  return {
    admitted: rows[0]?.admitted ?? true,
    windows: rows.map((r) => ({ used: r.used, resetAt: r.reset_at, retryAt: r.retry_at })),
  };
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
