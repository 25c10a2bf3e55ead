import type { Sql } from '@promptmill/infra/db';
import pino from 'pino';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { startDirectLeases } from './leases.ts';

/** A stand-in for the pool: records the run ids of each lease renewal (renewDirectLeases' one UPDATE). */
function recordingSql() {
  const renewals: string[][] = [];
  const sql = ((strings: TemplateStringsArray, ...values: unknown[]) => {
    if (strings.join('?').includes('UPDATE runs SET direct_lease_until')) {
      renewals.push([...(values.find(Array.isArray) as string[])]);
    }
    return Promise.resolve([]);
  }) as unknown as Sql;
  return { sql, renewals };
}

describe('direct run leases', () => {
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('renews, in one statement, the runs not renewed for a third of the lease: never the short ones', async () => {
    const { sql, renewals } = recordingSql();
    const leases = startDirectLeases(sql, { leaseMs: 3_000, logger: pino({ level: 'silent' }) });
    leases.hold('run_a');
    await vi.advanceTimersByTimeAsync(500);
    leases.hold('run_b');
    leases.hold('run_short');
    await vi.advanceTimersByTimeAsync(400);
    leases.release('run_short'); // ended before its first renewal: never renewed
    await vi.advanceTimersByTimeAsync(100); // t = 1000: run_a is a third of the lease old
    expect(renewals).toEqual([['run_a']]);
    await vi.advanceTimersByTimeAsync(1_000); // t = 2000
    expect(renewals).toEqual([['run_a'], ['run_a', 'run_b']]);
    leases.release('run_a');
    leases.release('run_b');
    await vi.advanceTimersByTimeAsync(5_000);
    expect(renewals).toHaveLength(2);
    leases.stop();
  });

  it('a held run is renewed before its lease runs out, whatever the phase of the timer', async () => {
    const leaseMs = 1_500;
    for (const phase of [0, 1, 250, 499]) {
      const { sql, renewals } = recordingSql();
      const leases = startDirectLeases(sql, { leaseMs, logger: pino({ level: 'silent' }) });
      await vi.advanceTimersByTimeAsync(phase);
      leases.hold('run_x');
      let expiresAt = Date.now() + leaseMs;
      for (let t = 0; t < 10 * leaseMs; t += 50) {
        const before = renewals.length;
        await vi.advanceTimersByTimeAsync(50);
        if (renewals.length > before) expiresAt = Date.now() + leaseMs;
        // at least a third of the lease left at every moment
        expect(expiresAt - Date.now()).toBeGreaterThanOrEqual(leaseMs / 3);
      }
      leases.stop();
    }
  });
});
