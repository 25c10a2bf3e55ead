import { type LimitWindow, latestExpiry, type WindowState } from './windows.ts';

/**
 * Known refusals, per process: "window `bucket` with limit L refuses until T", taken from a decision the
 * counter store made (T is that decision's retry time). Until T the answer cannot change — a window frees
 * capacity only when counted requests expire, and the store said when that is — so a request that meets
 * such a window is refused from memory: no Postgres round trip, no global-breaker token. This never admits
 * anything, so limits stay exact across processes. An entry is only used while the window's limit is the
 * one it was recorded with (a raised limit is decided by the store again at once), and never when it
 * reaches further than one window from now (only a clock set back can make it: the store decides again).
 *
 * With permit leases (permit-leases.ts) a window also frees capacity when a process gives back permits it
 * leased and did not spend (within about 2 s of leasing them). So a refusal is then remembered for at most
 * `maxHoldMs` (1 s in the api) and the store is asked again after that: a tenant flooding past its limit
 * costs one statement per second per api process, and permits given back are found again.
 */
export interface RefusalCache {
  /** the full windows of a refusal the store decided at `now`, each until its own retry time */
  remember(exceeded: readonly WindowState[], now: Date): void;
  /** the windows of this request known to refuse at `now` (empty: ask the store) */
  refusing(windows: readonly LimitWindow[], now: Date): WindowState[];
  readonly size: number;
}

interface Entry {
  state: WindowState;
  until: number;
}

export function createRefusalCache(opts: { maxEntries?: number; maxHoldMs?: number } = {}): RefusalCache {
  const maxEntries = opts.maxEntries ?? 10_000;
  const maxHoldMs = opts.maxHoldMs ?? Number.POSITIVE_INFINITY;
  const entries = new Map<string, Entry>();

  const evict = (now: number) => {
    for (const [bucket, e] of entries) if (e.until <= now) entries.delete(bucket);
    // still full: drop the oldest entries (the store decides for them again; nothing is admitted wrongly)
    for (const bucket of entries.keys()) {
      if (entries.size < maxEntries) break;
      entries.delete(bucket);
    }
  };

  return {
    remember(exceeded, now) {
      for (const state of exceeded) {
        if (!state.retryAt || state.retryAt <= now) continue;
        if (entries.size >= maxEntries && !entries.has(state.bucket)) evict(now.getTime());
        entries.delete(state.bucket); // re-insert: the Map's order is the eviction order
        const until = Math.min(state.retryAt.getTime(), now.getTime() + maxHoldMs);
        entries.set(state.bucket, { state, until });
      }
    },
    refusing(windows, now) {
      const t = now.getTime();
      const hits: WindowState[] = [];
      for (const w of windows) {
        const e = entries.get(w.bucket);
        if (!e) continue;
        if (e.until <= t || e.until > latestExpiry(w.period, now).getTime()) {
          entries.delete(w.bucket);
          continue;
        }
        if (e.state.limit === w.limit) hits.push(e.state);
      }
      return hits;
    },
    get size() {
      return entries.size;
    },
  };
}
