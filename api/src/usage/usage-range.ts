import type { UsageGranularity } from '@promptmill/infra/db';
import { AppError } from '../http/app-error.ts';

const HOUR_MS = 3_600_000;
const DAY_MS = 86_400_000;

/** The longest range each granularity answers (API.md: 90 days at hour granularity). */
export const MAX_RANGE_DAYS: Record<UsageGranularity, number> = { hour: 90, day: 366 };

export interface UsageRange {
  /** aligned down to the granularity */
  from: Date;
  /** aligned up to the granularity (exclusive) */
  to: Date;
  granularity: UsageGranularity;
  /** every bucket's start, in order */
  starts: Date[];
}

const LAST_BUCKET_END = Date.UTC(9999, 11, 31);

const sizeOf = (g: UsageGranularity) => (g === 'day' ? DAY_MS : HOUR_MS);

const invalid = (field: string, message: string) =>
  new AppError('VALIDATION_ERROR', 'Invalid request parameters', { details: [{ field, message }] });

/**
 * The buckets a request covers: `to` defaults to now, `from` to `to` − 24 h; both are rounded out to
 * whole hours or UTC days (UTC has no daylight saving: a day is always 24 h from midnight).
 */
export function resolveRange(
  q: { from?: Date | undefined; to?: Date | undefined; granularity: UsageGranularity },
  now: Date,
): UsageRange {
  const to = q.to ?? now;
  const from = q.from ?? new Date(to.getTime() - DAY_MS);
  if (from.getTime() >= to.getTime()) throw invalid('from', 'must be before to');
  const maxDays = MAX_RANGE_DAYS[q.granularity];
  if (to.getTime() - from.getTime() > maxDays * DAY_MS) {
    throw invalid('to', `the range is at most ${maxDays} days at ${q.granularity} granularity`);
  }
  const size = sizeOf(q.granularity);
  const start = Math.floor(from.getTime() / size) * size;
  const end = Math.ceil(to.getTime() / size) * size;
  // rounded up past the last day a timestamp holds in ISO-8601 without an expanded year
  if (end > LAST_BUCKET_END) throw invalid('to', 'must be before 9999-12-31T00:00:00Z');
  const starts: Date[] = [];
  for (let t = start; t < end; t += size) starts.push(new Date(t));
  return { from: new Date(start), to: new Date(end), granularity: q.granularity, starts };
}

export const bucketEnd = (start: Date, g: UsageGranularity) => new Date(start.getTime() + sizeOf(g));
