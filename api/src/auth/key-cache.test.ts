import type { KeyAuthRow } from '@promptmill/infra/db';
import { describe, expect, it } from 'vitest';
import { type CacheLookup, createKeyCache } from './key-cache.ts';

const row = (id: string, over: Partial<KeyAuthRow> = {}): KeyAuthRow => ({
  id,
  orgId: 'org_a',
  ownerMemberId: 'mbr_a',
  name: 'k',
  scopes: ['admin'],
  promptIds: null,
  rateLimits: {},
  allowedOrigins: null,
  expiresAt: null,
  revokedAt: null,
  isPreviousSecret: false,
  previousExpiresAt: null,
  keyHash: Buffer.from(id),
  previousHash: null,
  ownerSuspendedAt: null,
  ownerRemovedAt: null,
  ownerRole: 'owner',
  orgName: 'Org',
  orgPlan: 'pro',
  orgBillingStatus: 'active',
  orgTokenBudget: null,
  orgLimitOverrides: {},
  orgAllowedModels: null,
  ...over,
});

/** A database of rows by hash (the hash is the row id's bytes here), counting reads. */
function setup(opts: { live?: () => boolean; maxAgeMs?: number; maxEntries?: number } = {}) {
  const db = new Map<string, KeyAuthRow>();
  let reads = 0;
  let t = 0;
  let beforeRead: (() => void) | undefined;
  const lookups: CacheLookup[] = [];
  const cache = createKeyCache({
    read: {
      byHash: async (hash) => {
        reads += 1;
        const found = db.get(hash.toString());
        beforeRead?.();
        return found;
      },
      byId: async (id) => {
        reads += 1;
        return db.get(id);
      },
    },
    isLive: opts.live ?? (() => true),
    maxAgeMs: opts.maxAgeMs ?? 30_000,
    ...(opts.maxEntries ? { maxEntries: opts.maxEntries } : {}),
    monotonicMs: () => t,
    onLookup: (r) => lookups.push(r),
  });
  return {
    db,
    cache,
    lookups,
    reads: () => reads,
    advance: (ms: number) => {
      t += ms;
    },
    duringNextRead: (fn: () => void) => {
      beforeRead = () => {
        beforeRead = undefined;
        fn();
      };
    },
  };
}

const hash = (id: string) => Buffer.from(id);

describe('key cache', () => {
  it('serves a known key from memory; an unknown key is read every time (a new key works at once)', async () => {
    const s = setup();
    s.db.set('key_1', row('key_1'));
    expect((await s.cache.byHash(hash('key_1')))?.id).toBe('key_1');
    expect((await s.cache.byHash(hash('key_1')))?.id).toBe('key_1');
    expect(s.reads()).toBe(1);
    expect(await s.cache.byHash(hash('key_new'))).toBeUndefined();
    s.db.set('key_new', row('key_new'));
    expect((await s.cache.byHash(hash('key_new')))?.id).toBe('key_new');
    expect(s.lookups).toEqual(['miss', 'hit', 'miss', 'miss']);
  });

  it('drops the rows a change concerns: the key, every key of a member, every key of an organization', async () => {
    const s = setup();
    s.db.set('key_1', row('key_1'));
    s.db.set('key_2', row('key_2', { ownerMemberId: 'mbr_b' }));
    s.db.set('key_3', row('key_3', { orgId: 'org_b', ownerMemberId: 'mbr_c' }));
    for (const k of ['key_1', 'key_2', 'key_3']) await s.cache.byHash(hash(k));
    expect(s.cache.size).toBe(3);
    s.cache.invalidate({ kind: 'key', id: 'key_1' });
    expect(s.cache.size).toBe(2);
    s.cache.invalidate({ kind: 'member', id: 'mbr_b' });
    expect(s.cache.size).toBe(1);
    s.cache.invalidate({ kind: 'org', id: 'org_a' });
    expect(s.cache.size).toBe(1);
    s.cache.invalidate({ kind: 'org', id: 'org_b' });
    expect(s.cache.size).toBe(0);
    // and the next lookup sees the change
    s.db.set('key_1', row('key_1', { revokedAt: new Date() }));
    expect((await s.cache.byHash(hash('key_1')))?.revokedAt).not.toBeNull();
  });

  it('does not keep a row read while an invalidation arrived (the read may predate the change)', async () => {
    const s = setup();
    s.db.set('key_1', row('key_1'));
    s.duringNextRead(() => {
      s.db.set('key_1', row('key_1', { revokedAt: new Date() })); // committed after the read's snapshot…
      s.cache.invalidate({ kind: 'key', id: 'key_1' }); // …and its NOTIFY arrives before the read returns
    });
    expect((await s.cache.byHash(hash('key_1')))?.revokedAt).toBeNull(); // this request saw the old row
    expect((await s.cache.byHash(hash('key_1')))?.revokedAt).not.toBeNull(); // the next one reads again
    expect(s.reads()).toBe(2);
  });

  it('is bypassed (every lookup reads, nothing is kept) while the invalidation listener is not live', async () => {
    let live = false;
    const s = setup({ live: () => live });
    s.db.set('key_1', row('key_1'));
    await s.cache.byHash(hash('key_1'));
    await s.cache.byHash(hash('key_1'));
    expect(s.reads()).toBe(2);
    expect(s.cache.size).toBe(0);
    live = true;
    await s.cache.byHash(hash('key_1'));
    await s.cache.byHash(hash('key_1'));
    expect(s.reads()).toBe(3);
    live = false; // a cached row is not served either
    await s.cache.byHash(hash('key_1'));
    expect(s.reads()).toBe(4);
    expect(s.lookups).toEqual(['bypass', 'bypass', 'miss', 'hit', 'bypass']);
  });

  it('reads a row again once it is older than maxAgeMs; maxAgeMs = 0 turns the cache off', async () => {
    const s = setup({ maxAgeMs: 1_000 });
    s.db.set('key_1', row('key_1'));
    await s.cache.byHash(hash('key_1'));
    s.advance(999);
    await s.cache.byHash(hash('key_1'));
    expect(s.reads()).toBe(1);
    s.advance(1);
    await s.cache.byHash(hash('key_1'));
    expect(s.reads()).toBe(2);

    const off = setup({ maxAgeMs: 0 });
    off.db.set('key_1', row('key_1'));
    await off.cache.byHash(hash('key_1'));
    await off.cache.byHash(hash('key_1'));
    expect(off.reads()).toBe(2);
  });

  it('caches access-token lookups by key id too, and stays bounded', async () => {
    const s = setup({ maxEntries: 2 });
    s.db.set('key_1', row('key_1'));
    await s.cache.byId('key_1');
    await s.cache.byId('key_1');
    expect(s.reads()).toBe(1);
    s.cache.invalidate({ kind: 'key', id: 'key_1' });
    await s.cache.byId('key_1');
    expect(s.reads()).toBe(2);
    for (const k of ['key_a', 'key_b', 'key_c']) {
      s.db.set(k, row(k));
      await s.cache.byHash(hash(k));
    }
    expect(s.cache.size).toBe(2);
    s.cache.invalidate({ kind: 'all' });
    expect(s.cache.size).toBe(0);
  });
});
