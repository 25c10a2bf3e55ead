import type { AddressInfo } from 'node:net';
import type { Sql } from '@promptmill/infra/db';
import express, { Router } from 'express';
import { Registry } from 'prom-client';
import { afterEach, describe, expect, it } from 'vitest';
import type { TemporalHandle } from '../temporal.ts';
import { mountRoutes } from './define-route.ts';
import { healthRoutes } from './health.routes.ts';

const servers: { close(): void }[] = [];
afterEach(() => {
  for (const s of servers.splice(0)) s.close();
});

/** The health routes alone over real HTTP, with counting stand-ins for Postgres and Temporal. */
async function start(opts: { postgresUp: () => boolean }) {
  let t = 0;
  const calls = { postgres: 0, temporal: 0 };
  const sql = (() => {
    calls.postgres += 1;
    return new Promise((resolve, reject) =>
      setTimeout(() => (opts.postgresUp() ? resolve([]) : reject(new Error('down'))), 30),
    );
  }) as unknown as Sql;
  const temporal = {
    connection: {
      healthService: {
        check: async () => {
          calls.temporal += 1;
        },
      },
    },
  } as unknown as TemporalHandle;
  const app = express();
  app.use(
    mountRoutes(Router(), healthRoutes({ sql, temporal, registry: new Registry(), monotonicMs: () => t })),
  );
  const server = app.listen(0, '127.0.0.1');
  servers.push(server);
  await new Promise((r) => server.once('listening', r));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/readyz`;
  const readyz = async () => {
    const res = await fetch(url);
    return { status: res.status, body: (await res.json()) as { status: string } };
  };
  return { calls, readyz, advance: (ms: number) => (t += ms) };
}

describe('GET /readyz', () => {
  it('a flood shares one check, and a result answers every request for a second', async () => {
    const probe = await start({ postgresUp: () => true });
    const flood = await Promise.all(Array.from({ length: 50 }, () => probe.readyz()));
    expect(flood.every((r) => r.status === 200 && r.body.status === 'ready')).toBe(true);
    expect(probe.calls).toEqual({ postgres: 1, temporal: 1 });
    probe.advance(999);
    await probe.readyz();
    expect(probe.calls).toEqual({ postgres: 1, temporal: 1 });
    probe.advance(1);
    await probe.readyz();
    expect(probe.calls).toEqual({ postgres: 2, temporal: 2 });
  });

  it('a failed check is cached the same way, and the next one after a second sees the recovery', async () => {
    let up = false;
    const probe = await start({ postgresUp: () => up });
    expect((await probe.readyz()).status).toBe(503);
    up = true;
    expect((await probe.readyz()).status).toBe(503);
    probe.advance(1_000);
    expect(await probe.readyz()).toEqual({ status: 200, body: expect.objectContaining({ status: 'ready' }) });
  });
});
