import type { AuthInvalidation, KeyAuthRow } from '@promptmill/infra/db';

/** Where authentication gets a key row (with its owner and organization) from. */
export interface KeyLookup {
  /** the key whose current or pre-rotation secret hashes to `hash` */
  byHash(hash: Buffer): Promise<KeyAuthRow | undefined>;
  /** the key by id (OAuth2 access tokens name their key) */
  byId(id: string): Promise<KeyAuthRow | undefined>;
}

export type CacheLookup = 'hit' | 'miss' | 'bypass';

/** A committed change to a key, a member (and so its keys) or an organization (and so its keys). */
export type AuthChange = Extract<AuthInvalidation, { kind: 'key' | 'member' | 'org' }>;

/**
 * The key rows authentication reads, cached per process so that a request with a known key costs no
 * read. Correctness rests on invalidation, not on a TTL:
 *
 * - Every change to a key, its owner member or its organization NOTIFYs `pm_auth_invalidate` from a
 *   trigger, in the transaction of the change (migration 009); `invalidate` drops every row it concerns.
 * - The cache is used only while `isLive()`: the listener has confirmed (by a probe sent through the same
 *   channel, key-invalidation.ts) that every change committed more than about a second ago has reached
 *   this process. Otherwise every lookup reads (bypass), and nothing read then is kept.
 * - A row read while an invalidation arrived is not kept (a generation counter): the read may have seen
 *   the database before the change.
 * - Rows older than `maxAgeMs` are read again (bounds any case the above misses, e.g. a change made with
 *   triggers disabled).
 * - Only rows that exist are cached: an unknown secret is read every time (a key created a moment ago
 *   must work at once; the failed-authentication budget per address bounds guessing).
 *
 * What the clock decides (expiry, the grace period of a rotated-out secret) is checked on every request
 * from the row (checkKeyUsable), not cached.
 */
export interface KeyCache extends KeyLookup {
  invalidate(what: Exclude<AuthInvalidation, { kind: 'probe' }>): void;
  /** drops everything (the listener reconnected or lost its confirmation) */
  clear(): void;
  readonly size: number;
}

export interface KeyCacheOptions {
  read: KeyLookup;
  /** true while every change committed more than a moment ago is known to have reached this process */
  isLive(): boolean;
  /** how long a row may be served without a read; 0 = no cache (every request reads its key) */
  maxAgeMs: number;
  maxEntries?: number;
  monotonicMs?: () => number;
  onLookup?(result: CacheLookup): void;
}

interface Entry {
  row: KeyAuthRow;
  at: number;
}

export function createKeyCache(opts: KeyCacheOptions): KeyCache {
  const entries = new Map<string, Entry>();
  const maxEntries = opts.maxEntries ?? 20_000;
  const monotonic = opts.monotonicMs ?? (() => performance.now());
  let generation = 0;

  const lookup = async (
    cacheKey: string,
    read: () => Promise<KeyAuthRow | undefined>,
  ): Promise<KeyAuthRow | undefined> => {
    if (opts.maxAgeMs <= 0 || !opts.isLive()) {
      opts.onLookup?.('bypass');
      return read();
    }
    const cached = entries.get(cacheKey);
    if (cached && monotonic() - cached.at < opts.maxAgeMs) {
      opts.onLookup?.('hit');
      return cached.row;
    }
    const seen = generation;
    const row = await read();
    opts.onLookup?.('miss');
    // an invalidation that arrived during the read may concern what it returned: do not keep it
    if (row && seen === generation && opts.isLive()) {
      if (entries.size >= maxEntries && !entries.has(cacheKey)) {
        const oldest = entries.keys().next();
        if (!oldest.done) entries.delete(oldest.value);
      }
      entries.delete(cacheKey); // re-insert: the Map's order is the eviction order
      entries.set(cacheKey, { row, at: monotonic() });
    }
    return row;
  };

  const drop = (matches: (row: KeyAuthRow) => boolean) => {
    generation += 1;
    for (const [k, e] of entries) if (matches(e.row)) entries.delete(k);
  };

  return {
    byHash: (hash) => lookup(`h:${hash.toString('base64')}`, () => opts.read.byHash(hash)),
    byId: (id) => lookup(`i:${id}`, () => opts.read.byId(id)),
    invalidate(what) {
      switch (what.kind) {
        case 'key':
          return drop((row) => row.id === what.id);
        case 'member':
          return drop((row) => row.ownerMemberId === what.id);
        case 'org':
          return drop((row) => row.orgId === what.id);
        case 'all':
          return this.clear();
      }
    },
    clear() {
      generation += 1;
      entries.clear();
    },
    get size() {
      return entries.size;
    },
  };
}
