import { describe, expect, it } from 'vitest';
import { INT32_MAX, isoDate, isoDateTime, positiveInt32, positiveInt32Param } from './zod-primitives.ts';

const messages = (r: { error?: { issues: { message: string }[] } }) => r.error?.issues.map((i) => i.message);

describe('positiveInt32 / positiveInt32Param', () => {
  it('hold 1..2^31−1 and nothing past an int4', () => {
    for (const ok of [1, 2, INT32_MAX]) expect(positiveInt32().safeParse(ok).success).toBe(true);
    for (const bad of [0, -0, -1, 1.5, 2 ** 31, 1e11, 2 ** 53, Number.NaN, Number.POSITIVE_INFINITY]) {
      expect(positiveInt32().safeParse(bad).success, String(bad)).toBe(false);
    }
  });

  it('read query and path strings as numbers, refusing the ones a database int4 cannot hold', () => {
    expect(positiveInt32Param().parse('2147483647')).toBe(INT32_MAX);
    for (const bad of ['2147483648', '1e11', '-0', 'NaN', '1.5', '', 'abc', '99999999999999999999']) {
      expect(positiveInt32Param().safeParse(bad).success, bad).toBe(false);
    }
  });
});

describe('isoDateTime / isoDate', () => {
  it('accept 1970 through the end of 9999 (UTC), offsets included', () => {
    for (const ok of ['1970-01-01T00:00:00Z', '2030-06-01T12:00:00+02:00', '9999-12-31T23:59:59.999Z']) {
      expect(isoDateTime().safeParse(ok).success, ok).toBe(true);
    }
    expect(isoDate().safeParse('9999-12-31').success).toBe(true);
  });

  it('refuse year 0, before 1970 and past 9999 once the offset is applied', () => {
    const range = 'must be between 1970-01-01T00:00:00Z and 9999-12-31T23:59:59Z';
    for (const bad of ['0000-01-01T00:00:00Z', '1969-12-31T23:59:59Z', '9999-12-31T23:59:59-23:59']) {
      expect(messages(isoDateTime().safeParse(bad)), bad).toEqual([range]);
    }
    expect(messages(isoDate().safeParse('0000-01-01'))).toEqual([range]);
  });

  it('leave a string that is no date at all to the format check (one message)', () => {
    expect(messages(isoDateTime().safeParse('yesterday'))).toEqual(['Invalid ISO datetime']);
  });
});
