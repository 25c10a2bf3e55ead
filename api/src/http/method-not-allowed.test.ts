import type { AddressInfo } from 'node:net';
import express, { Router } from 'express';
import { afterEach, describe, expect, it } from 'vitest';
import { defineRoute, mountRoutes, type RouteDef } from './define-route.ts';
import { errorHandler, notFoundHandler } from './error-handler.ts';
import { methodNotAllowed } from './method-not-allowed.ts';

const servers: { close(): void }[] = [];
afterEach(() => {
  for (const s of servers.splice(0)) s.close();
});

const route = (method: 'get' | 'post' | 'delete', path: string): RouteDef =>
  defineRoute({
    method,
    path,
    auth: 'none',
    summary: `${method} ${path}`,
    tag: 'Test',
    responses: {},
    handler: ({ res }) => {
      res.status(200).json({ ok: true });
    },
  });

async function start(routes: RouteDef[]) {
  const app = express();
  app.use(mountRoutes(Router(), routes));
  app.use(methodNotAllowed(routes));
  app.use(notFoundHandler);
  app.use(errorHandler({ error() {} } as never, 1024));
  const server = app.listen(0, '127.0.0.1');
  servers.push(server);
  await new Promise((r) => server.once('listening', r));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return (method: string, path: string) => fetch(`${base}${path}`, { method });
}

describe('methodNotAllowed', () => {
  it('405 with Allow listing every method of every pattern the path matches; unknown paths 404', async () => {
    const call = await start([
      route('get', '/things'),
      route('post', '/things'),
      route('get', '/things/:id'),
      route('delete', '/things/special'),
    ]);
    const put = await call('PUT', '/things');
    expect(put.status).toBe(405);
    expect(put.headers.get('allow')).toBe('GET, HEAD, POST');
    expect(((await put.json()) as { error: { code: string } }).error.code).toBe('METHOD_NOT_ALLOWED');
    const special = await call('POST', '/things/special');
    expect(special.status).toBe(405);
    expect(special.headers.get('allow')?.split(', ').sort()).toEqual(['DELETE', 'GET', 'HEAD']);
    expect((await call('GET', '/things/1')).status).toBe(200);
    expect((await call('GET', '/elsewhere')).status).toBe(404);
    expect((await call('GET', '/things/1/more')).status).toBe(404);
  });
});
