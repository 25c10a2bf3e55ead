import type { ReleasedPermits } from '@promptmill/infra/db';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { createPermitLeases, type PermitLeases } from './permit-leases.ts';
import type { PermitDecision, PermitRequest } from './rate-limit.ts';
import { counterWindow, type LimitWindow, tightestWindow, windowState } from './windows.ts';

const T0 = Date.UTC(2026, 10, 23, 10, 0, 0);
const at = (ms: number) => new Date(T0 + ms);

/**
 * The counter store as migration 009 defines it, in memory, for one minute (no expiry): returned
 * permits first, then min(want, max(1, room / share)) for every window, or nothing.
 */
function fakeStore(opts: { delayMs?: number; fail?: () => Error | undefined } = {}) {
  const counted = new Map<string, number>();
  const calls: PermitRequest[] = [];
  const grants: number[] = [];
  const released: ReleasedPermits[] = [];
  const take = async (req: PermitRequest): Promise<PermitDecision> => {
    calls.push(req);
    await new Promise((r) => setTimeout(r, opts.delayMs ?? 1));
    const failure = opts.fail?.();
    if (failure) throw failure;
    for (const w of req.windows) {
      counted.set(w.bucket, (counted.get(w.bucket) ?? 0) - (req.returned?.count ?? 0));
    }
    const room = Math.min(...req.windows.map((w) => w.limit - (counted.get(w.bucket) ?? 0)));
    const granted = room < 1 ? 0 : Math.min(Math.max(1, req.want), Math.max(1, Math.floor(room / req.share)));
    for (const w of req.windows) counted.set(w.bucket, (counted.get(w.bucket) ?? 0) + granted);
    grants.push(granted);
    const states = req.windows.map((w) => {
      const used = counted.get(w.bucket) ?? 0;
      return windowState(
        w,
        { used, resetAt: new Date(req.now.getTime() + 60_000), retryAt: used >= w.limit ? at(60_000) : null },
        req.now,
      );
    });
    return {
      admitted: granted > 0,
      granted,
      slotStarts: req.windows.map((w) => counterWindow(w, req.now).slotStart),
      windows: req.windows,
      states,
      tightest: tightestWindow(states),
      exceeded: granted > 0 ? [] : states.filter((s) => s.used >= s.limit),
    };
  };
  const release = async (r: ReleasedPermits[]) => {
    released.push(...r);
    for (const x of r) counted.set(x.bucket, (counted.get(x.bucket) ?? 0) - x.count);
  };
  return { take, release, counted, calls, grants, released };
}

type Store = ReturnType<typeof fakeStore>;

function leasesOn(store: Store, opts: { maxLease?: number; clock?: () => Date } = {}): PermitLeases {
  return createPermitLeases({
    take: store.take,
    release: store.release,
    maxLease: opts.maxLease ?? 1_000,
    share: 8,
    clock: opts.clock ?? (() => at(0)),
    sweepIntervalMs: 0,
  });
}

const windowsOf = (keyLimit: number, orgLimit = 1_000_000): LimitWindow[] => [
  { scope: 'key', period: 'minute', limit: keyLimit, bucket: 'k:a:minute' },
  { scope: 'org', period: 'minute', limit: orgLimit, bucket: 'o:x:minute' },
];

const admitted = (ds: { admitted: boolean }[]) => ds.filter((d) => d.admitted).length;

describe('permit leases', () => {
  it('a quiet key is decided one request at a time, one permit per statement (as before leases)', async () => {
    const store = fakeStore();
    const leases = leasesOn(store);
    // 15 a second, one after the other: below the rate worth leasing for
    for (let i = 0; i < 30; i++) {
      expect((await leases.admit('org_x', windowsOf(100), at(i * 66))).admitted).toBe(true);
    }
    expect(store.calls.map((c) => c.want)).toEqual(Array(30).fill(1));
    expect(store.counted.get('k:a:minute')).toBe(30);
  });

  it('concurrent requests share one statement, and a busy key leases for the rest of the second', async () => {
    const store = fakeStore();
    const leases = leasesOn(store);
    const w = windowsOf(1_000_000);
    const first = await Promise.all(Array.from({ length: 50 }, () => leases.admit('org_x', w, at(0))));
    expect(admitted(first)).toBe(50);
    expect(store.calls[0]!.want).toBe(1); // nobody was waiting yet
    expect(store.calls.length).toBeLessThanOrEqual(3); // then the 49 that waited, at once
    // the next second: sized by the last one (50/s, ×1.25)
    const before = store.calls.length;
    await leases.admit('org_x', w, at(1_000));
    expect(store.calls[before]!.want).toBe(63);
    for (let i = 1; i < 60; i++) expect((await leases.admit('org_x', w, at(1_000 + i))).admitted).toBe(true);
    expect(store.calls.length).toBe(before + 1);
  });

  it('X-RateLimit-Remaining counts the permits this process still holds as remaining', async () => {
    const store = fakeStore();
    const leases = leasesOn(store);
    const w = windowsOf(100);
    await Promise.all(Array.from({ length: 20 }, () => leases.admit('org_x', w, at(0))));
    const seen: number[] = [];
    for (let i = 0; i < 3; i++) {
      const d = await leases.admit('org_x', w, at(10));
      if (d.admitted) seen.push(d.tightest!.remaining);
    }
    expect(seen).toEqual([79, 78, 77]); // 100 − 21, − 22, − 23: as if decided one at a time
  });

  it('a lease ends with its second: the next statement gives back what was not spent', async () => {
    const store = fakeStore();
    const leases = leasesOn(store);
    const w = windowsOf(1_000);
    await Promise.all(Array.from({ length: 40 }, () => leases.admit('org_x', w, at(0))));
    expect(store.counted.get('k:a:minute')).toBe(40); // leased as they waited: nothing unspent
    // the next second is sized by this one (40/s ×1.25 = 50) and only 10 come
    for (let i = 0; i < 10; i++) await leases.admit('org_x', w, at(1_000 + i));
    expect(store.grants.at(-1)).toBe(50);
    expect(store.counted.get('k:a:minute')).toBe(90);
    await leases.admit('org_x', w, at(2_000));
    const last = store.calls.at(-1)!;
    expect(last.returned?.count).toBe(40);
    expect(last.returned?.slotStarts.map((d) => d.getTime())).toEqual([T0 + 1_000, T0 + 1_000]);
    await leases.close();
    expect(store.counted.get('k:a:minute')).toBe(51);
  });

  it('the sweep gives back ended leases, close() every lease; nothing is given back twice', async () => {
    let now = at(0);
    const store = fakeStore();
    const leases = leasesOn(store, { clock: () => now });
    const w = windowsOf(1_000);
    await Promise.all(Array.from({ length: 40 }, () => leases.admit('org_x', w, at(0))));
    await leases.admit('org_x', w, at(1_000)); // leases 50, spends 1
    const held = store.counted.get('k:a:minute')! - 41;
    expect(held).toBe(49);
    now = at(1_500);
    await leases.sweep(); // still its second: kept
    expect(store.released).toEqual([]);
    now = at(2_000);
    await leases.sweep();
    expect(store.counted.get('k:a:minute')).toBe(41);
    expect(store.released.map((r) => [r.lock, r.bucket, r.count])).toEqual([
      ['org_x', 'k:a:minute', held],
      ['org_x', 'o:x:minute', held],
    ]);
    await leases.sweep();
    await leases.close();
    expect(store.released).toHaveLength(2);
    expect(store.counted.get('k:a:minute')).toBe(41);
  });

  it('a refusal (or an error) reaches every request that waited for the statement', async () => {
    const store = fakeStore();
    const leases = leasesOn(store);
    const w = windowsOf(3);
    const all = await Promise.all(Array.from({ length: 10 }, () => leases.admit('org_x', w, at(0))));
    expect(admitted(all)).toBe(3);
    const refusal = all.find((d) => !d.admitted);
    expect(refusal).toMatchObject({ admitted: false, exceeded: [{ bucket: 'k:a:minute', used: 3 }] });

    let failing = true;
    const broken = fakeStore({ fail: () => (failing ? new Error('down') : undefined) });
    const other = leasesOn(broken);
    const results = await Promise.allSettled(Array.from({ length: 5 }, () => other.admit('org_x', w, at(0))));
    expect(results.every((r) => r.status === 'rejected')).toBe(true);
    expect(broken.calls).toHaveLength(1);
    failing = false;
    expect((await other.admit('org_x', w, at(5))).admitted).toBe(true);
  });

  it('leases shrink near the limit: the last permits go one at a time', async () => {
    const store = fakeStore();
    const leases = leasesOn(store);
    const w = windowsOf(40);
    const all = await Promise.all(Array.from({ length: 100 }, () => leases.admit('org_x', w, at(0))));
    expect(admitted(all)).toBe(40);
    expect(store.counted.get('k:a:minute')).toBe(40);
    // at most 1/8 of the room each time: 1 (nobody waited yet), 4, 4, 3, 3, 2, …, then 1s, then refused
    expect(Math.max(...store.grants)).toBeLessThanOrEqual(5);
    expect(store.grants.slice(-9)).toEqual([1, 1, 1, 1, 1, 1, 1, 1, 0]);
  });

  it('RATE_LIMIT_LEASE_MAX=1: one statement per request, never a lease', async () => {
    const store = fakeStore();
    const leases = leasesOn(store, { maxLease: 1 });
    const w = windowsOf(1_000);
    await Promise.all(Array.from({ length: 20 }, () => leases.admit('org_x', w, at(0))));
    expect(store.calls).toHaveLength(20);
    expect(store.calls.every((c) => c.want === 1)).toBe(true);
    expect(store.counted.get('k:a:minute')).toBe(20);
  });

  it('two processes on one store never admit more than the limit, and leave nothing unspent (property)', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 300 }),
        fc.array(fc.tuple(fc.integer({ min: 0, max: 1 }), fc.integer({ min: 0, max: 2_500 })), {
          minLength: 1,
          maxLength: 400,
        }),
        async (limit, requests) => {
          const store = fakeStore({ delayMs: 0 });
          const procs = [leasesOn(store), leasesOn(store)];
          const w = windowsOf(limit);
          // bursts of concurrent requests at increasing instants (across second boundaries)
          const sorted = [...requests].sort((a, b) => a[1] - b[1]);
          const decisions = await Promise.all(sorted.map(([p, t]) => procs[p]!.admit('org_x', w, at(t))));
          const n = admitted(decisions);
          expect(n).toBeLessThanOrEqual(limit);
          await Promise.all(procs.map((p) => p.close()));
          // every permit still counted was spent: the store and the admissions agree
          expect(store.counted.get('k:a:minute')).toBe(n);
        },
      ),
      { numRuns: 150 },
    );
  });
});
