import { describe, expect, it } from 'vitest';
import { AppError } from '../http/app-error.ts';
import { resolveRange } from './usage-range.ts';

const d = (s: string) => new Date(s);
const fieldOf = (fn: () => unknown) => {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(AppError);
    return (err as AppError).details?.[0]?.field;
  }
  throw new Error('no error');
};

describe('resolveRange', () => {
  it('defaults to the last 24 h, rounded out to whole hours', () => {
    const r = resolveRange({ granularity: 'hour' }, d('2030-03-02T10:30:00Z'));
    expect(r.from.toISOString()).toBe('2030-03-01T10:00:00.000Z');
    expect(r.to.toISOString()).toBe('2030-03-02T11:00:00.000Z');
    expect(r.starts).toHaveLength(25);
  });

  it('an aligned range is kept as is; days start at UTC midnight', () => {
    const r = resolveRange(
      { from: d('2030-03-01T00:00:00Z'), to: d('2030-03-03T00:00:00Z'), granularity: 'day' },
      new Date(),
    );
    expect(r.starts.map((s) => s.toISOString())).toEqual([
      '2030-03-01T00:00:00.000Z',
      '2030-03-02T00:00:00.000Z',
    ]);
    const offset = resolveRange(
      { from: d('2030-03-01T23:30:00-02:00'), to: d('2030-03-02T03:00:00Z'), granularity: 'day' },
      new Date(),
    );
    // 23:30 at -02:00 is 01:30 UTC on 2 March
    expect(offset.starts.map((s) => s.toISOString())).toEqual(['2030-03-02T00:00:00.000Z']);
  });

  it('refuses an empty or reversed range, and more than 90 days of hours or 366 of days', () => {
    const now = new Date();
    expect(
      fieldOf(() =>
        resolveRange(
          { from: d('2030-01-02T00:00:00Z'), to: d('2030-01-01T00:00:00Z'), granularity: 'hour' },
          now,
        ),
      ),
    ).toBe('from');
    expect(
      fieldOf(() =>
        resolveRange(
          { from: d('2030-01-01T00:00:00Z'), to: d('2030-01-01T00:00:00Z'), granularity: 'hour' },
          now,
        ),
      ),
    ).toBe('from');
    expect(
      fieldOf(() =>
        resolveRange(
          { from: d('2030-01-01T00:00:00Z'), to: d('2030-04-01T00:00:01Z'), granularity: 'hour' },
          now,
        ),
      ),
    ).toBe('to');
    expect(
      resolveRange(
        { from: d('2030-01-01T00:00:00Z'), to: d('2030-04-01T00:00:00Z'), granularity: 'hour' },
        now,
      ).starts,
    ).toHaveLength(2160);
    expect(
      fieldOf(() =>
        resolveRange(
          { from: d('2030-01-01T00:00:00Z'), to: d('2031-01-02T00:00:01Z'), granularity: 'day' },
          now,
        ),
      ),
    ).toBe('to');
    expect(
      fieldOf(() =>
        resolveRange(
          { from: d('9999-12-30T00:00:00Z'), to: d('9999-12-31T12:00:00Z'), granularity: 'day' },
          now,
        ),
      ),
    ).toBe('to');
  });
});
