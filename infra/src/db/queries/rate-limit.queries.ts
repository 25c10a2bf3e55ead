import type { Queryable } from '../client.ts';

/** One window of one request: a bucket of fixed-size slots (see migration 002_rate_limits.sql). */
export interface CounterWindow {
  bucket: string;
  /** start of the slot `now` falls in (where the request is recorded) */
  slotStart: Date;
  /** slots starting after this instant (exclusive) count, later ones included */
  from: Date;
  /** when the current slot stops counting */
  expiresAt: Date;
  limit: number;
}

export interface WindowCount {
  /** count after this decision (incremented when admitted) */
  used: number;
  /** oldest slot that still counts; null when the window is empty */
  oldest: Date | null;
  /** for a full window: the slot whose expiry brings it back under its limit */
  release: Date | null;
}

export interface AdmitResult {
  admitted: boolean;
  windows: WindowCount[];
}

/**
 * Atomically checks every window and increments all of them or none, in one round trip (one call
 * of promptmill_rate_limit_admit). `lock` groups the windows that must be serialized together:
 * the organization id.
 */
export async function admitRequest(
  sql: Queryable,
  lock: string,
  windows: CounterWindow[],
): Promise<AdmitResult> {
  if (windows.length === 0) return { admitted: true, windows: [] };
  const rows = await sql<(WindowCount & { admitted: boolean })[]>`
    SELECT used, oldest, release, admitted FROM promptmill_rate_limit_admit(
      ${lock},
      ${windows.map((w) => w.bucket)}::text[],
      ${windows.map((w) => w.slotStart.toISOString())}::timestamptz[],
      ${windows.map((w) => w.from.toISOString())}::timestamptz[],
      ${windows.map((w) => w.expiresAt.toISOString())}::timestamptz[],
      ${windows.map((w) => w.limit)}::integer[])`;
  return {
    admitted: rows[0]?.admitted ?? true,
    windows: rows.map((r) => ({ used: r.used, oldest: r.oldest, release: r.release })),
  };
}

/** Current counts without admitting anything (GET /v1/me). */
export async function peekCounters(
  sql: Queryable,
  windows: Pick<CounterWindow, 'bucket' | 'slotStart' | 'from'>[],
): Promise<Pick<WindowCount, 'used' | 'oldest'>[]> {
  if (windows.length === 0) return [];
  const rows = await sql<Pick<WindowCount, 'used' | 'oldest'>[]>`
    SELECT used, oldest FROM promptmill_rate_limit_peek(
      ${windows.map((w) => w.bucket)}::text[],
      ${windows.map((w) => w.slotStart.toISOString())}::timestamptz[],
      ${windows.map((w) => w.from.toISOString())}::timestamptz[])`;
  return rows.map((r) => ({ used: r.used, oldest: r.oldest }));
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
