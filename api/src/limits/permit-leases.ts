import type { ReleasedPermits } from '@promptmill/infra/db';
import type { PermitDecision, PermitRequest } from './rate-limit.ts';
import { type LimitWindow, leaseEnd, type WindowState } from './windows.ts';

/**
 * Permits leased from the shared windows, per process: the counter store is asked for a batch of permits
 * for one set of windows (a key's windows and its organization's, all at once, all or none), and the
 * process admits requests from memory until the batch is spent or its lease ends (the end of the current
 * second, `leaseEnd`). Every permit is counted in Postgres when it is leased, and counted for a full window
 * after the lease ends (migration 009), so however many processes lease, no window admits more than its
 * limit. What is not spent is given back: with the next lease of the same windows (in the same statement)
 * or by the sweep, about once a second.
 *
 * Sizing: a lease asks for what this process is expected to spend before the lease ends — the requests
 * waiting for it, or (from 20 requests a second) its rate over the last second ×1.25 for the rest of the
 * second, whichever is more, at most `maxLease` — and the store grants at most 1/`share` of the tightest
 * window's room (at least 1). So a quiet key or a window near its limit is decided one request at a time
 * (a single permit per statement, as before leases), and a busy one costs a few statements per second per
 * process.
 */
export interface PermitLeases {
  /** Admits one request at `now` against `windows` (serialized on `lock`, the organization). */
  admit(lock: string, windows: LimitWindow[], now: Date): Promise<LeaseDecision>;
  /** Gives back the permits of leases that ended unspent (run by a timer; exposed for tests). */
  sweep(): Promise<void>;
  /** Stops the timer and gives back every unspent permit (shutdown). */
  close(): Promise<void>;
  /** sets of windows this process holds state for */
  readonly size: number;
}

export type LeaseDecision =
  | { admitted: true; tightest: WindowState | undefined }
  | { admitted: false; exceeded: WindowState[]; tightest: WindowState | undefined };

export interface PermitLeasesOptions {
  /** one statement: up to `want` permits (takePermits with the store's timeout) */
  take(req: PermitRequest): Promise<PermitDecision>;
  /** one statement: give back unspent permits (returnPermits) */
  release(released: ReleasedPermits[]): Promise<void>;
  /** the most permits one lease may take; 1 = no leases: one statement per request */
  maxLease: number;
  /** a lease takes at most 1/share of the tightest window's room */
  share: number;
  /** the process clock, for the sweep (requests bring their own `now`) */
  clock: () => Date;
  /** how often ended leases are given back; 0 = only by sweep() and close() */
  sweepIntervalMs: number;
  onLeased?(granted: number): void;
  onReturned?(count: number): void;
  onReleaseError?(err: unknown, count: number): void;
}

/** Lease state idle this long (nothing left, nothing in flight) is dropped. */
const IDLE_MS = 10_000;
/** Ask for this much more than the last second's rate predicts. */
const HEADROOM = 1.25;
/**
 * Below this rate (requests per second for one set of windows) a process asks only for the requests
 * waiting: a statement per request costs nothing worth saving there, and a forecast of one or two more
 * would mostly hold permits nobody spends (the window refuses them elsewhere until they come back).
 */
const LEASE_MIN_RATE = 20;

interface Lease {
  lock: string;
  windows: LimitWindow[];
  /** permits left to spend at instants in [from, until) */
  left: number;
  from: number;
  until: number;
  /** per window, the slot the permits are counted in (where unspent ones go back) */
  slotStarts: Date[];
  /** the tightest window when the lease was taken, every granted permit counted */
  tightest: WindowState | undefined;
  /** the statement in flight for these windows: requests that find nothing to spend wait for it */
  inflight: Promise<PermitDecision> | undefined;
  waiting: number;
  /** admissions in the current second and in the one before (the rate a lease is sized by) */
  second: number;
  thisSecond: number;
  lastSecond: number;
  touched: number;
}

const signatureOf = (lock: string, windows: readonly LimitWindow[]) =>
  `${lock}|${windows.map((w) => `${w.bucket}=${w.limit}`).join('|')}`;

/** The tightest window with the permits this process still holds counted as remaining, for X-RateLimit-*. */
function withUnspent(tightest: WindowState | undefined, left: number): WindowState | undefined {
  if (!tightest || left === 0) return tightest;
  const remaining = Math.min(tightest.limit, tightest.remaining + left);
  return { ...tightest, remaining, used: Math.max(0, tightest.used - left) };
}

export function createPermitLeases(opts: PermitLeasesOptions): PermitLeases {
  const leases = new Map<string, Lease>();
  const maxLease = Math.max(1, Math.floor(opts.maxLease));

  const count = (lease: Lease, t: number) => {
    const second = Math.floor(t / 1000);
    if (second !== lease.second) {
      lease.lastSecond = second === lease.second + 1 ? lease.thisSecond : 0;
      lease.thisSecond = 0;
      lease.second = second;
    }
    lease.thisSecond += 1;
    lease.touched = t;
  };

  const wanted = (lease: Lease, now: Date): number => {
    if (maxLease === 1) return 1;
    const t = now.getTime();
    const second = Math.floor(t / 1000);
    const recent =
      second === lease.second
        ? Math.max(lease.lastSecond, lease.thisSecond)
        : second === lease.second + 1
          ? lease.thisSecond
          : 0;
    const forecast =
      recent >= LEASE_MIN_RATE ? Math.ceil((recent * HEADROOM * (leaseEnd(now).getTime() - t)) / 1000) : 0;
    return Math.min(maxLease, Math.max(1 + lease.waiting, forecast));
  };

  /** One statement for these windows; every request that finds nothing to spend meanwhile waits for it. */
  const ask = (lease: Lease, now: Date): Promise<PermitDecision> => {
    const returned = lease.left > 0 ? { count: lease.left, slotStarts: lease.slotStarts } : undefined;
    lease.left = 0; // ended (or not yet begun at `now`): never spent again, whatever the answer
    const request: PermitRequest = {
      lock: lease.lock,
      windows: lease.windows,
      now,
      want: wanted(lease, now),
      share: opts.share,
      ...(returned ? { returned } : {}),
    };
    const asked = opts
      .take(request)
      .then((decision) => {
        if (returned) opts.onReturned?.(returned.count);
        if (decision.admitted) {
          opts.onLeased?.(decision.granted);
          lease.left = decision.granted - 1; // the first is the asking request's
          lease.from = now.getTime();
          lease.until = leaseEnd(now).getTime();
          lease.slotStarts = decision.slotStarts;
          lease.tightest = decision.tightest;
        }
        return decision;
      })
      .finally(() => {
        lease.inflight = undefined;
      });
    lease.inflight = asked;
    return asked;
  };

  const refusal = (d: PermitDecision): LeaseDecision => ({
    admitted: false,
    exceeded: d.exceeded,
    tightest: d.tightest,
  });

  /** Takes every unspent permit of the leases `ended` selects (their state is cleared before the call). */
  const giveBack = async (ended: (lease: Lease) => boolean): Promise<void> => {
    const released: ReleasedPermits[] = [];
    let total = 0;
    for (const lease of leases.values()) {
      if (lease.inflight) continue;
      if (lease.left > 0 && ended(lease)) {
        lease.windows.forEach((w, i) => {
          released.push({
            lock: lease.lock,
            bucket: w.bucket,
            slotStart: lease.slotStarts[i]!,
            count: lease.left,
          });
        });
        total += lease.left;
        lease.left = 0;
      }
    }
    if (released.length === 0) return;
    try {
      await opts.release(released);
      opts.onReturned?.(total);
    } catch (err) {
      // not retried: a statement that timed out may have given them back already, and twice would over-admit;
      // so they keep counting until their windows let them go (fewer admissions, never more)
      opts.onReleaseError?.(err, total);
    }
  };

  const sweep = async () => {
    const t = opts.clock().getTime();
    await giveBack((lease) => t >= lease.until || t < lease.from);
    for (const [key, lease] of leases) {
      if (
        lease.left === 0 &&
        !lease.inflight &&
        lease.waiting === 0 &&
        Math.abs(t - lease.touched) > IDLE_MS
      ) {
        leases.delete(key);
      }
    }
  };

  let sweeping: Promise<void> = Promise.resolve();
  const timer =
    opts.sweepIntervalMs > 0
      ? setInterval(() => {
          sweeping = sweeping.then(sweep);
        }, opts.sweepIntervalMs)
      : undefined;
  timer?.unref();

  return {
    async admit(lock, windows, now) {
      const key = signatureOf(lock, windows);
      let lease = leases.get(key);
      if (!lease) {
        lease = {
          lock,
          windows,
          left: 0,
          from: 0,
          until: 0,
          slotStarts: [],
          tightest: undefined,
          inflight: undefined,
          waiting: 0,
          second: 0,
          thisSecond: 0,
          lastSecond: 0,
          touched: now.getTime(),
        };
        leases.set(key, lease);
      }
      const t = now.getTime();
      for (;;) {
        if (lease.left > 0 && t >= lease.from && t < lease.until) {
          lease.left -= 1;
          count(lease, t);
          return { admitted: true, tightest: withUnspent(lease.tightest, lease.left) };
        }
        if (lease.inflight) {
          lease.waiting += 1;
          let answer: PermitDecision;
          try {
            answer = await lease.inflight;
          } finally {
            lease.waiting -= 1;
          }
          // a refusal holds for everyone who waited for it; an admission: try to spend what it left
          if (!answer.admitted) return refusal(answer);
          continue;
        }
        const answer = await ask(lease, now);
        if (!answer.admitted) return refusal(answer);
        count(lease, t);
        return { admitted: true, tightest: withUnspent(answer.tightest, lease.left) };
      }
    },
    sweep: () => {
      sweeping = sweeping.then(sweep);
      return sweeping;
    },
    async close() {
      if (timer) clearInterval(timer);
      await sweeping;
      await giveBack(() => true);
    },
    get size() {
      return leases.size;
    },
  };
}
