import type { AddressInfo } from 'node:net';
import express from 'express';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { errorHandler } from '../http/error-handler.ts';
import { createAuthFailureLimiter } from '../limits/auth-failures.ts';
import { authenticate } from './authenticate.ts';

const servers: { close(): void }[] = [];
afterEach(() => {
  for (const s of servers.splice(0)) s.close();
});

describe('authenticate: failed authentications per client address', () => {
  it('each 401 spends the address budget; then 429 before any database read', async () => {
    let reads = 0;
    const keys = {
      byHash: async () => {
        reads += 1;
        return undefined; // no key matches: 401 Invalid API key
      },
      byId: async () => undefined,
    };
    const app = express();
    app.set('trust proxy', 1);
    app.use(authenticate({ keys, failures: createAuthFailureLimiter(3, { monotonicMs: () => 0 }) }));
    app.use((_req, res) => {
      res.json({ ok: true });
    });
    app.use(errorHandler(pino({ level: 'silent' }), 1024));
    const server = app.listen(0, '127.0.0.1');
    servers.push(server);
    await new Promise((r) => server.once('listening', r));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1/me`;
    const get = async (address: string, authorization?: string) => {
      const res = await fetch(url, {
        headers: { 'x-forwarded-for': address, ...(authorization ? { authorization } : {}) },
      });
      return { status: res.status, retryAfter: res.headers.get('retry-after'), body: await res.json() };
    };
    const wellFormed = `Bearer pm_live_${'0'.repeat(64)}`;
    // three kinds of 401 (one of them reads the key table) spend the budget of 3
    expect((await get('198.51.100.1')).status).toBe(401);
    expect((await get('198.51.100.1', 'Bearer nope')).status).toBe(401);
    expect((await get('198.51.100.1', wellFormed)).status).toBe(401);
    const readsOfOneLookup = reads;
    expect(readsOfOneLookup).toBeGreaterThan(0);
    const blocked = await get('198.51.100.1', wellFormed);
    expect(blocked.status).toBe(429);
    expect(blocked.body).toMatchObject({ error: { code: 'RATE_LIMITED' }, retryAfter: 20 });
    expect(blocked.retryAfter).toBe('20');
    expect(reads).toBe(readsOfOneLookup); // refused before the key lookup
    // another address is not affected
    expect((await get('198.51.100.2', wellFormed)).status).toBe(401);
    expect(reads).toBe(2 * readsOfOneLookup);
  });
});
