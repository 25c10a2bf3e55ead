import { request } from 'node:http';
import type { AddressInfo } from 'node:net';
import express from 'express';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { errorHandler, useSeedErrorShape } from '../http/error-handler.ts';
import { createSyncRunAdmission, MIN_LIMIT } from './sync-admission.ts';

const servers: { close(): void; closeAllConnections(): void }[] = [];
afterEach(() => {
  for (const s of servers.splice(0)) {
    s.closeAllConnections();
    s.close();
  }
});

/** The admission in front of a route that answers when `release()` is called. */
async function start(maxInFlight: number) {
  let shed = 0;
  const admission = createSyncRunAdmission({
    maxInFlight,
    targetQueueMs: 0,
    retryAfterSeconds: 1,
    onShed: () => shed++,
  });
  const waiting: (() => void)[] = [];
  const app = express();
  app.use('/api/v1/run', useSeedErrorShape(), admission.middleware);
  app.all('/api/v1/run', (_req, res) => {
    waiting.push(() => res.json({ success: true }));
  });
  app.use(errorHandler(pino({ level: 'silent' }), 1024));
  const server = app.listen(0, '127.0.0.1');
  servers.push(server);
  await new Promise((r) => server.once('listening', r));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/api/v1/run`;
  return {
    url,
    admission,
    shed: () => shed,
    /** answers every request the route holds */
    releaseAll: () => {
      for (const answer of waiting.splice(0)) answer();
    },
    held: () => waiting.length,
  };
}

const post = (url: string) =>
  fetch(url, { method: 'POST', body: '{}', headers: { 'content-type': 'application/json' } });

describe('sync run admission', () => {
  it('admits up to the limit and refuses the excess at once: 503, Retry-After, the seed shape', async () => {
    const s = await start(2);
    const admitted = [post(s.url), post(s.url)];
    await expect.poll(() => s.held()).toBe(2);
    expect(s.admission.inFlight()).toBe(2);
    const refused = await post(s.url);
    expect(refused.status).toBe(503);
    expect(refused.headers.get('retry-after')).toBe('1');
    expect(await refused.json()).toEqual({
      success: false,
      code: 'SERVICE_UNAVAILABLE',
      error: 'The server is at capacity; try again shortly',
      retryAfter: 1,
    });
    expect(s.shed()).toBe(1);
    s.releaseAll();
    expect((await Promise.all(admitted)).map((r) => r.status)).toEqual([200, 200]);
    await expect.poll(() => s.admission.inFlight()).toBe(0);
    const again = post(s.url);
    await expect.poll(() => s.held()).toBe(1);
    s.releaseAll();
    expect((await again).status).toBe(200);
  });

  it('frees the slot of a client that goes away before its answer', async () => {
    const s = await start(1);
    const req = request(s.url, { method: 'POST', agent: false });
    req.on('error', () => {});
    req.end('{}');
    await expect.poll(() => s.admission.inFlight()).toBe(1);
    req.destroy();
    await expect.poll(() => s.admission.inFlight()).toBe(0);
  });

  it('0 admits everything; requests other than POST are not counted', async () => {
    const s = await start(0);
    const all = [post(s.url), post(s.url), post(s.url)];
    await expect.poll(() => s.held()).toBe(3);
    const get = fetch(s.url);
    await expect.poll(() => s.held()).toBe(4);
    expect(s.admission.inFlight()).toBe(3);
    s.releaseAll();
    await Promise.all([...all, get]);
  });
});

describe('the adaptive limit: runs that wait too long for a worker lower it', () => {
  /** An admission with `inFlight` requests held (through its middleware) and a movable clock. */
  function held(inFlight: number, maxInFlight = 100) {
    let t = 0;
    const admission = createSyncRunAdmission({
      maxInFlight,
      targetQueueMs: 250,
      retryAfterSeconds: 1,
      now: () => t,
    });
    const closers: (() => void)[] = [];
    const admit = () => {
      let refused = false;
      const res = { once: (_e: string, fn: () => void) => closers.push(fn) };
      admission.middleware({ method: 'POST' } as never, res as never, (err?: unknown) => {
        refused = err !== undefined;
      });
      return !refused;
    };
    for (let i = 0; i < inFlight; i++) admit();
    return {
      admission,
      admit,
      finishOne: () => closers.shift()?.(),
      advance: (ms: number) => {
        t += ms;
      },
    };
  }

  it('cuts the limit to 80 % of the runs in flight, at most once per target interval', () => {
    const h = held(50);
    expect(h.admission.limit()).toBe(100);
    h.admission.observeQueueDelay(900);
    expect(h.admission.limit()).toBe(40);
    h.admission.observeQueueDelay(900); // the same queue: not cut again yet
    expect(h.admission.limit()).toBe(40);
    // 50 in flight over a limit of 40: refused until 11 have ended
    expect(h.admit()).toBe(false);
    for (let i = 0; i < 11; i++) h.finishOne();
    expect(h.admit()).toBe(true);
    // still too long a wait once the limit binds: 80 % of the 40 in flight
    h.advance(250);
    h.admission.observeQueueDelay(900);
    expect(h.admission.limit()).toBe(32);
  });

  it('raises it by one per short wait, back up to SYNC_RUN_MAX_IN_FLIGHT', () => {
    const h = held(10, 12);
    h.admission.observeQueueDelay(1_000);
    expect(h.admission.limit()).toBe(8);
    for (let i = 0; i < 3; i++) h.admission.observeQueueDelay(40);
    expect(h.admission.limit()).toBe(11);
    for (let i = 0; i < 5; i++) h.admission.observeQueueDelay(40);
    expect(h.admission.limit()).toBe(12);
  });

  it('never below MIN_LIMIT: runs keep ending and reporting', () => {
    const h = held(2);
    for (let i = 0; i < 10; i++) {
      h.admission.observeQueueDelay(5_000);
      h.advance(1_000);
    }
    expect(h.admission.limit()).toBe(MIN_LIMIT);
    expect(h.admit()).toBe(true);
    expect(h.admit()).toBe(true);
    expect(h.admit()).toBe(false);
    h.finishOne();
    expect(h.admit()).toBe(true);
  });

  it('a SYNC_RUN_MAX_IN_FLIGHT below MIN_LIMIT stays the limit', () => {
    const h = held(2, 2);
    h.admission.observeQueueDelay(5_000);
    expect(h.admission.limit()).toBe(2);
  });

  it('targetQueueMs 0 keeps the limit where it is', () => {
    const admission = createSyncRunAdmission({ maxInFlight: 10, targetQueueMs: 0, retryAfterSeconds: 1 });
    admission.observeQueueDelay(60_000);
    expect(admission.limit()).toBe(10);
  });
});
