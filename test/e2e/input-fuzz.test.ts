// Property: no input makes any route answer 5xx. For every route of the route table, fast-check builds
// requests from the route's own schemas (its path params, query keys and body keys) filled with hostile
// values: any Unicode with NUL and lone surrogates, malformed percent-encoding, huge, negative and
// fractional numbers, wrong types, extra keys, deep nesting, broken or unknown Content-Encodings. Every
// answer must be below 500 and, when an error, in the route's error shape.
// Bounded: FUZZ_RUNS (default 25) requests per route, seed FUZZ_SEED (default below; fast-check prints
// the seed and the failing request). The app is built in-process against the e2e stack's Postgres and
// Temporal (the stack's worker and mock provider run whatever starts), rate limits off, one admin key.
import { randomUUID } from 'node:crypto';
import { gzipSync } from 'node:zlib';
import fc from 'fast-check';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { z } from 'zod';
import { createApp } from '../../api/src/app.ts';
import { loadApiEnv } from '../../api/src/env.ts';
import type { RouteDef } from '../../api/src/http/define-route.ts';
import { createApiMetrics } from '../../api/src/http/metrics.ts';
import { connectTemporal, type TemporalHandle } from '../../api/src/temporal.ts';
import { createSql, type Sql } from '../../infra/src/db/index.ts';
import { type FuzzRequest, requestsFor } from './fuzz-support.ts';

const SEED = Number(process.env.FUZZ_SEED ?? 20_261_129);
const RUNS = Number(process.env.FUZZ_RUNS ?? 25);
const ADMIN_TOKEN = 'input-fuzz-admin-token-0123456789';

// ---------------------------------------------------------------------------------------------
// The app under test: built when the file loads, so each route of its table is a test of its own

const env = loadApiEnv({
  NODE_ENV: 'test',
  DATABASE_URL: inject('databaseUrl'),
  TEMPORAL_ADDRESS: inject('temporalAddress'),
  ADMIN_TOKEN,
  TEST_CLOCK: 'true',
  RATE_LIMITS_ENABLED: 'false',
  SYNC_RUN_TIMEOUT_MS: '10000',
  LOG_LEVEL: 'silent',
});
/** The api's own error log (an unhandled error is logged with its stack): the last lines go with a failure. */
const errorLog: string[] = [];
const sql: Sql = createSql(env.DATABASE_URL, { max: 4 });
const temporal: TemporalHandle = await connectTemporal(env);
const built = createApp({
  env,
  sql,
  temporal,
  logger: pino({ level: 'error' }, { write: (line: string) => void errorLog.push(line) }),
  metrics: createApiMetrics(),
});
const server = built.app.listen(0, '127.0.0.1');
let baseUrl: string;
let apiKey: string;
let promptId: string;

async function send(req: FuzzRequest, auth: string | undefined): Promise<{ status: number; text: string }> {
  const headers: Record<string, string> = {};
  if (auth) headers.authorization = auth;
  let payload: Uint8Array | string | undefined = req.body;
  if (req.body !== undefined) {
    headers['content-type'] = 'application/json';
    if (req.encoding !== 'identity') headers['content-encoding'] = req.encoding === 'zstd' ? 'zstd' : 'gzip';
    if (req.encoding === 'gzip') payload = gzipSync(req.body);
    if (req.encoding === 'gzip-corrupt' || req.encoding === 'zstd')
      payload = gzipSync(req.body).subarray(0, 12);
  }
  const res = await fetch(`${baseUrl}${req.url}`, { method: req.method, headers, body: payload ?? null });
  return { status: res.status, text: await res.text() };
}

const errorCode = z.string().regex(/^[A-Z][A-Z0-9_]*$/);
const apiError = z.object({
  error: z.object({
    code: errorCode,
    message: z.string().min(1),
    details: z.array(z.object({ field: z.string(), message: z.string() })).optional(),
  }),
});
const seedError = z.object({ success: z.literal(false), error: z.string().min(1), code: errorCode });
const oauthError = z.object({
  error: z.string().regex(/^[a-z_]+$/),
  error_description: z.string().optional(),
});

function errorShapeOf(route: RouteDef): z.ZodType {
  if (route.doc.path.startsWith('/oauth/')) return oauthError;
  return route.doc.errorShape === 'seed' ? seedError : apiError;
}

function authFor(route: RouteDef): string | undefined {
  if (route.doc.auth === 'key') return `Bearer ${apiKey}`;
  if (route.doc.auth === 'admin') return `Bearer ${ADMIN_TOKEN}`;
  return undefined;
}

async function post<T = unknown>(path: string, auth: string, body: unknown): Promise<T> {
  const res = await fetch(`${baseUrl}${path}`, {
    method: path.includes('test-clock') ? 'PUT' : 'POST',
    headers: { authorization: auth, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  const json = await res.json();
  if (res.status >= 300) throw new Error(`${path}: ${res.status} ${JSON.stringify(json)}`);
  return json as T;
}

beforeAll(async () => {
  if (!server.listening) await new Promise((r) => server.once('listening', r));
  const address = server.address();
  baseUrl = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
  const admin = `Bearer ${ADMIN_TOKEN}`;
  const org = await post<{ data: { key: { key: string } } }>('/admin/v1/orgs', admin, {
    name: `fuzz-${randomUUID()}`,
    plan: 'enterprise',
  });
  apiKey = org.data.key.key;
  const prompt = await post<{ data: { id: string } }>('/v1/prompts', `Bearer ${apiKey}`, {
    name: `fuzz-${randomUUID()}`,
  });
  promptId = prompt.data.id;
  await post(`/v1/prompts/${promptId}/versions`, `Bearer ${apiKey}`, {
    model: 'mock-1',
    template: 'Hello',
    labels: ['production'],
  });
});

afterAll(async () => {
  server.close();
  await built.close();
  await temporal.connection.close();
  await sql.end();
});

describe(`no input makes a route answer 5xx (FUZZ_SEED=${SEED}, FUZZ_RUNS=${RUNS})`, () => {
  for (const route of built.routes) {
    const name = `${route.doc.method.toUpperCase()} ${route.doc.path}`;
    it(name, async () => {
      const shape = errorShapeOf(route);
      const auth = authFor(route);
      await fc.assert(
        fc.asyncProperty(requestsFor(route, { promptId }), async (req) => {
          errorLog.length = 0;
          const res = await send(req, auth);
          const context = `${name}: ${req.method} ${req.url} [${req.encoding}] body=${JSON.stringify(req.body)?.slice(0, 500)} → ${res.status} ${res.text.slice(0, 300)}\n${errorLog.slice(-2).join('\n').slice(0, 1500)}`;
          expect(res.status, context).toBeLessThan(500);
          if (res.status >= 400) {
            let body: unknown = res.text;
            try {
              body = JSON.parse(res.text);
            } catch {
              // not JSON: the shape check below fails with the text in the message
            }
            expect(shape.safeParse(body).success, `error shape: ${context}`).toBe(true);
          }
        }),
        { seed: SEED, numRuns: RUNS },
      );
      // the clock route moves this process's clock: put it back for the routes after it
      if (route.doc.path === '/admin/v1/test-clock')
        await post(route.doc.path, `Bearer ${ADMIN_TOKEN}`, { offsetMs: 0 });
    });
  }
});

describe('the test clock (this in-process app has its own)', () => {
  it('refuses an offset or a date that would leave JS Date’s range, and the app keeps answering', async () => {
    const admin = { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' };
    for (const body of [{ offsetMs: 9e15 }, { offsetMs: -9e15 }, { now: '0000-01-01T00:00:00Z' }]) {
      const res = await fetch(`${baseUrl}/admin/v1/test-clock`, {
        method: 'PUT',
        headers: admin,
        body: JSON.stringify(body),
      });
      expect(res.status, JSON.stringify(body)).toBe(400);
      expect(await res.json()).toMatchObject({ error: { code: 'VALIDATION_ERROR' } });
    }
    const me = await fetch(`${baseUrl}/v1/me`, { headers: { authorization: `Bearer ${apiKey}` } });
    expect(me.status).toBe(200);
  });
});
