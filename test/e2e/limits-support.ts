// Shared by the auth, keys, members, limits, oauth, cors and orgs e2e files.

import { freePort, type ServiceProcess, startService, stopChild } from '@promptmill/dev/stack';
import postgres from 'postgres';
import { afterAll, inject } from 'vitest';
import { adminToken, call } from './helpers.ts';

/** One small pool per test file, closed after it. */
export function testSql() {
  const sql = postgres(inject('databaseUrl'), { max: 3, onnotice: () => {} });
  afterAll(() => sql.end());
  return sql;
}

export interface KeyBody {
  id: string;
  name: string;
  summary: string;
  scopes: string[];
  promptIds: string[] | null;
  rateLimits: { perMinute?: number; perHour?: number; perDay?: number };
  allowedOrigins: string[] | null;
  ownerId: string;
  status: 'active' | 'expired' | 'revoked' | 'rate_limited';
  createdAt: string;
  lastUsedAt: string | null;
  usageCount: number;
  expiresAt: string | null;
  revokedAt: string | null;
  previousKeyExpiresAt: string | null;
  key?: string;
}

/** POST /v1/keys with `creatorKey`; throws unless 201. */
export async function createKey(
  creatorKey: string,
  body: Record<string, unknown> = {},
  baseUrl?: string,
): Promise<KeyBody & { key: string }> {
  const res = await call<{ data: KeyBody & { key: string } }>('POST', '/v1/keys', {
    key: creatorKey,
    body: { name: 'test key', ...body },
    ...(baseUrl ? { baseUrl } : {}),
  });
  if (res.status !== 201) throw new Error(`createKey: ${res.status} ${res.text}`);
  return res.body.data;
}

export async function adminPatchOrg(orgId: string, body: Record<string, unknown>, baseUrl?: string) {
  const res = await call('PATCH', `/admin/v1/orgs/${orgId}`, {
    headers: { authorization: `Bearer ${adminToken}` },
    body,
    ...(baseUrl ? { baseUrl } : {}),
  });
  if (res.status !== 200) throw new Error(`patch org: ${res.status} ${res.text}`);
  return res;
}

export const errorOf = (body: unknown) => (body as { error: { code: string; message: string } }).error;

/** Polls until `check` returns a value (not undefined); fails after `timeoutMs`. */
export async function eventually<T>(check: () => Promise<T | undefined>, timeoutMs = 5_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await check();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 100));
  }
}

export interface ExtraApi {
  url: string;
  logs: string[];
  process: ServiceProcess;
  /** PUT /admin/v1/test-clock on this process (needs TEST_CLOCK) */
  setClock(at: Date): Promise<void>;
  stop(): Promise<void>;
}

/**
 * One more api process against the shared e2e Postgres and Temporal, with its own env (a test
 * clock, other limits). Every line it logs is kept in `logs`.
 */
export async function startExtraApi(env: Record<string, string>): Promise<ExtraApi> {
  const logs: string[] = [];
  const verbose = Boolean(process.env.E2E_VERBOSE);
  const port = await freePort();
  const proc = await startService({
    name: `api-extra-${port}`,
    entry: 'api/src/main.ts',
    env: {
      ...process.env,
      LOG_LEVEL: 'warn',
      LOG_REQUESTS: 'false',
      ...env,
      DATABASE_URL: inject('databaseUrl'),
      TEMPORAL_ADDRESS: inject('temporalAddress'),
      ADMIN_TOKEN: adminToken,
      PORT: String(port),
      HOST: '127.0.0.1',
    },
    readyEvent: 'api.ready',
    log: (l) => {
      logs.push(l);
      if (verbose) process.stderr.write(`${l}\n`);
    },
  });
  const url = `http://127.0.0.1:${String(proc.ready.port)}`;
  return {
    url,
    logs,
    process: proc,
    async setClock(at) {
      const res = await call('PUT', '/admin/v1/test-clock', {
        baseUrl: url,
        headers: { authorization: `Bearer ${adminToken}` },
        body: { now: at.toISOString() },
      });
      if (res.status !== 200) throw new Error(`set clock: ${res.status} ${res.text}`);
    },
    stop: () => stopChild(proc.child, 30_000),
  };
}
