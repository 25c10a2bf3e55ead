import { z } from 'zod';

// Bounded building blocks for request schemas: every number that reaches an integer column or a query,
// and every date that reaches a timestamptz, is refused with 400 (the field named) when the database or
// JS could not hold it, instead of failing there with a 500.

/** Postgres `integer` (int4) bounds. */
export const INT32_MIN = -2_147_483_648;
export const INT32_MAX = 2_147_483_647;

/** An integer an int4 column holds. */
export const int32 = () => z.number().int().min(INT32_MIN).max(INT32_MAX);

/** 1..2^31−1: version numbers, counts and limits stored as int4. */
export const positiveInt32 = () => z.number().int().min(1).max(INT32_MAX);

/**
 * A query or path integer in 1..2^31−1, written as a number (`1e11`, `2147483648`, `-0`, `NaN` and
 * `1.5` are 400s naming the field).
 */
export const positiveInt32Param = () => z.coerce.number().int().min(1).max(INT32_MAX);

/** Earliest and latest instant a request date may name (JS Date and timestamptz hold both with room). */
export const EARLIEST_DATE = new Date('1970-01-01T00:00:00.000Z');
export const LATEST_DATE = new Date('9999-12-31T23:59:59.999Z');
const DATE_RANGE_MESSAGE = 'must be between 1970-01-01T00:00:00Z and 9999-12-31T23:59:59Z';

// a string that is not a date at all is the format check's to report, not this one's
const isInDateRange = (value: string) => {
  const time = new Date(value).getTime();
  return Number.isNaN(time) || (time >= EARLIEST_DATE.getTime() && time <= LATEST_DATE.getTime());
};

/** An ISO-8601 date-time with an offset (`Z` or `±hh:mm`), between 1970 and the end of 9999 UTC. */
export const isoDateTime = () =>
  z.iso.datetime({ offset: true }).refine(isInDateRange, { message: DATE_RANGE_MESSAGE });

/** An ISO-8601 date (`2030-01-31`), between 1970 and 9999. */
export const isoDate = () => z.iso.date().refine(isInDateRange, { message: DATE_RANGE_MESSAGE });

/**
 * A query bound (`from`, `to`): an ISO-8601 date-time with an offset, or a date (`2026-11-29`, its
 * 00:00 UTC), as a Date.
 */
export const isoInstant = () =>
  z
    .union([isoDateTime(), isoDate()], {
      error: 'must be an ISO-8601 date-time with an offset (2026-11-29T10:00:00Z) or a date (2026-11-29)',
    })
    .transform((v) => new Date(v));
