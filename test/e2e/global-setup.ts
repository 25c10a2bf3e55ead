// Starts ONE real stack for the e2e project: embedded Postgres, Temporal dev server (headless),
// worker and api as child processes, and the mock model provider. Every port is picked free.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestProject } from 'vitest/node';
import { type MockProvider, startMockProvider } from '../../infra/src/mock-provider/index.ts';
import { type Stack, startStack } from '../../infra/src/stack/index.ts';

export const E2E_ENV = {
  LOG_LEVEL: 'warn',
  LOG_REQUESTS: 'false',
  PROVIDER_RETRY_INITIAL_MS: '50',
  PROVIDER_MAX_ATTEMPTS: '3',
  SYNC_RUN_TIMEOUT_MS: '15000',
  PROVIDER_TIMEOUT_MS: '5000',
};

let stack: Stack | undefined;
let mock: MockProvider | undefined;
let dataDir: string | undefined;

export default async function setup(project: TestProject) {
  dataDir = mkdtempSync(join(tmpdir(), 'promptmill-e2e-'));
  mock = await startMockProvider({ port: 0 });
  const adminToken = 'e2e-admin-token-0123456789';
  const logs: string[] = [];
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
      env: E2E_ENV,
      log: (l) => {
        logs.push(l);
        if (process.env.E2E_VERBOSE) process.stderr.write(`${l}\n`);
      },
    });
  } catch (err) {
    process.stderr.write(`${logs.slice(-50).join('\n')}\n`);
    throw err;
  }
  project.provide('apiUrl', stack.apiUrl);
  project.provide('mockUrl', mock.url);
  project.provide('adminToken', adminToken);
  project.provide('databaseUrl', stack.databaseUrl);
  project.provide('temporalAddress', stack.temporalAddress);
  project.provide('workerMetricsUrl', stack.workerMetricsUrl);

  return async () => {
    await stack?.stop();
    await mock?.close();
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  };
}

declare module 'vitest' {
  export interface ProvidedContext {
    apiUrl: string;
    mockUrl: string;
    adminToken: string;
    databaseUrl: string;
    temporalAddress: string;
    workerMetricsUrl: string;
  }
}
