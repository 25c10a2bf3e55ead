// A stack of its own for the e2e files that cannot share the global one (they kill its worker, or
// need a per-deployment setting such as Svix mode): embedded Postgres, Temporal, api, worker and a mock
// provider on free ports, a temporary data dir, and one organization created through the admin API.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type MockProvider, startMockProvider } from '@promptmill/dev/mock-provider';
import { type Stack, startStack } from '@promptmill/dev/stack';
import postgres from 'postgres';
import { expect } from 'vitest';
import { E2E_ENV } from './global-setup.ts';
import { type ApiResponse, call, unique } from './helpers.ts';

export interface OwnStackOptions {
  /** Names the data dir, the admin token and the organization. */
  name: string;
  /** Added over E2E_ENV for the api and the worker. */
  env?: Record<string, string>;
  /** The organization's plan (the admin API's default when absent). */
  plan?: string;
}

export interface OwnStack {
  stack: Stack;
  mock: MockProvider;
  sql: postgres.Sql;
  adminToken: string;
  key: string;
  orgId: string;
  /** Every log line of the stack; pass `(l) => logs.push(l)` to extra services too. */
  logs: string[];
  api<T = Record<string, unknown>>(method: string, path: string, body?: unknown): Promise<ApiResponse<T>>;
  stop(): Promise<void>;
}

/** Starts the stack and its org; on any failure stops what it started and prints the last log lines. */
export async function startOwnStack(opts: OwnStackOptions): Promise<OwnStack> {
  const adminToken = `${opts.name}-admin-token-0123456789`;
  const logs: string[] = [];
  const dataDir = mkdtempSync(join(tmpdir(), `promptmill-${opts.name}-`));
  let mock: MockProvider | undefined;
  let stack: Stack | undefined;
  let sql: postgres.Sql | undefined;
  const stop = async () => {
    await sql?.end();
    await stack?.stop();
    await mock?.close();
    rmSync(dataDir, { recursive: true, force: true });
  };
  try {
    mock = await startMockProvider({ port: 0 });
    try {
      stack = await startStack({
        dataDir,
        apiPort: 0,
        temporalPort: 0,
        temporalUiPort: 0,
        postgresPort: 0,
        workerMetricsPort: 0,
        headless: true,
        providerBaseUrl: mock.url,
        adminToken,
        env: { ...E2E_ENV, ...opts.env },
        log: (l) => logs.push(l),
      });
    } catch (err) {
      process.stderr.write(`${logs.slice(-40).join('\n')}\n`);
      throw err;
    }
    const started = stack;
    sql = postgres(started.databaseUrl, { max: 2, onnotice: () => {} });
    const org = await call<{ data: { org: { id: string }; key: { key: string } } }>(
      'POST',
      '/admin/v1/orgs',
      {
        baseUrl: started.apiUrl,
        headers: { authorization: `Bearer ${adminToken}` },
        body: { name: unique(`${opts.name}-org`), ...(opts.plan ? { plan: opts.plan } : {}) },
      },
    );
    expect(org.status).toBe(201);
    const key = org.body.data.key.key;
    return {
      stack: started,
      mock,
      sql,
      adminToken,
      key,
      orgId: org.body.data.org.id,
      logs,
      api: <T = Record<string, unknown>>(method: string, path: string, body?: unknown) =>
        call<T>(method, path, { baseUrl: started.apiUrl, key, body }),
      stop,
    };
  } catch (err) {
    await stop().catch(() => {});
    throw err;
  }
}
