import type { Sql } from '@promptmill/infra/db';
import { pino } from 'pino';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { startKeyInvalidation } from './key-invalidation.ts';

/**
 * Connections whose LISTEN and NOTIFY we control: a NOTIFY (a probe) comes back to the listener unless
 * its connection is silently dead (`killLatest`); `send` plays a change committed by someone else.
 */
function fakeConnections() {
  const made: {
    onMessage: (payload: string) => void;
    onListen: () => void;
    ended: boolean;
    dead: boolean;
  }[] = [];
  const connect = (): Sql => {
    const conn = { onMessage: (_: string) => {}, onListen: () => {}, ended: false, dead: false };
    made.push(conn);
    const sql = ((_strings: TemplateStringsArray, ...values: unknown[]) => {
      const payload = String(values[1]);
      if (!conn.dead && !conn.ended) setTimeout(() => conn.onMessage(payload), 5);
      return Promise.resolve([]);
    }) as unknown as Sql & Record<string, unknown>;
    sql.listen = ((_channel: string, fn: (p: string) => void, onlisten: () => void) => {
      conn.onMessage = fn;
      conn.onListen = onlisten;
      setTimeout(onlisten, 1);
      return Promise.resolve({ state: {}, unlisten: async () => {} });
    }) as unknown as Sql['listen'];
    sql.end = () => {
      conn.ended = true;
      return Promise.resolve();
    };
    return sql;
  };
  return {
    connect,
    made,
    killLatest: () => {
      made.at(-1)!.dead = true;
    },
    send: (payload: string) => made.at(-1)!.onMessage(payload),
  };
}

function setup() {
  const conns = fakeConnections();
  const events: string[] = [];
  const cache = {
    invalidate: (what: { kind: string; id?: string }) => events.push(`${what.kind}:${what.id ?? ''}`),
    clear: () => events.push('clear'),
  };
  const inv = startKeyInvalidation({
    connect: conns.connect,
    cache,
    logger: pino({ level: 'silent' }),
    monotonicMs: () => Date.now(),
  });
  return { conns, events, inv };
}

beforeEach(() => {
  vi.useFakeTimers();
});
afterEach(() => {
  vi.useRealTimers();
});

describe('key cache invalidation listener', () => {
  it('is live once its own probe comes back; hands changes to the cache; clears on every LISTEN', async () => {
    const s = setup();
    expect(s.inv.isLive()).toBe(false);
    await vi.advanceTimersByTimeAsync(20);
    expect(s.inv.isLive()).toBe(true);
    expect(s.events).toEqual(['clear']); // the first LISTEN
    s.conns.send('k:key_1');
    s.conns.send('o:org_1');
    s.conns.send('p:someone-else:123'); // another process's probe: ignored
    expect(s.events).toEqual(['clear', 'key:key_1', 'org:org_1']);
    await s.inv.stop();
  });

  it('settle(): resolves once a probe sent after the call comes back; at once when not live', async () => {
    const s = setup();
    let settled = false;
    void s.inv.settle().then(() => {
      settled = true;
    });
    await vi.advanceTimersByTimeAsync(0);
    expect(settled).toBe(true); // not live yet: nothing is served from the cache anyway
    await vi.advanceTimersByTimeAsync(20);
    const settledAfter = async () => {
      const t0 = Date.now();
      let done = false;
      void s.inv.settle().then(() => {
        done = true;
      });
      while (!done) await vi.advanceTimersByTimeAsync(1);
      return Date.now() - t0;
    };
    expect(await settledAfter()).toBeLessThan(20); // its own probe's round trip (5 ms here)
    s.conns.killLatest();
    expect(await settledAfter()).toBe(1_000); // the probe never comes back: gives up after the live window
    await s.inv.stop();
  });

  it('stops being live within 1 s when probes stop coming back, drops the cache, and reconnects', async () => {
    const s = setup();
    await vi.advanceTimersByTimeAsync(300);
    expect(s.inv.isLive()).toBe(true);
    s.conns.killLatest(); // the connection is silently dead: nothing arrives any more
    const lostAt = Date.now();
    while (s.inv.isLive()) await vi.advanceTimersByTimeAsync(10);
    // live until a window after the last probe that came back (sent before lostAt)
    expect(Date.now() - lostAt).toBeLessThanOrEqual(1_000);
    await vi.advanceTimersByTimeAsync(300);
    expect(s.events.filter((e) => e === 'clear')).toHaveLength(2); // first LISTEN, then the lapse
    expect(s.conns.made).toHaveLength(1);
    // silent for 5 s: a new connection, a new LISTEN (which clears again), live again
    await vi.advanceTimersByTimeAsync(5_000);
    expect(s.conns.made.length).toBeGreaterThanOrEqual(2);
    expect(s.conns.made[0]!.ended).toBe(true);
    await vi.advanceTimersByTimeAsync(300);
    expect(s.inv.isLive()).toBe(true);
    expect(s.events.filter((e) => e === 'clear').length).toBeGreaterThanOrEqual(3);
    await s.inv.stop();
    expect(s.inv.isLive()).toBe(false);
  });
});
