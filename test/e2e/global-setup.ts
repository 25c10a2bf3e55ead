// Starts ONE real stack for the e2e project: embedded Postgres, Temporal dev server (headless),
// worker and api as child processes, and the mock model provider. Every port is picked free.

import { type EphemeralStack, startEphemeralStack } from '@promptmill/dev/stack';
import type { TestProject } from 'vitest/node';

export const E2E_ENV = {
  LOG_LEVEL: 'warn',
  LOG_REQUESTS: 'false',
  PROVIDER_RETRY_INITIAL_MS: '50',
  PROVIDER_MAX_ATTEMPTS: '3',
  SYNC_RUN_TIMEOUT_MS: '15000',
  PROVIDER_TIMEOUT_MS: '5000',
  // every test client shares one address (127.0.0.1), and the suite's 401 tests alone would spend the
  // default budget of 30 per minute; the limiter has its own tests (limits-hardening.test.ts)
  AUTH_FAILURE_LIMIT_PER_MINUTE: '100000',
  // the shared stack runs two test files at once on a busy machine, and worker-crash.test.ts stops the
  // worker: runs there wait for a worker far longer than in production, and the adaptive limit would
  // refuse other files' runs; it has its own tests (sync-run-load.test.ts, sync-admission.test.ts)
  SYNC_RUN_TARGET_QUEUE_MS: '0',
  // webhook receivers in the tests listen on 127.0.0.1 (the refusal has its own api process in
  // webhooks-ssrf.test.ts); retries after 1 s instead of 5 s … 10 h; a stalled start is redone after 3 s
  WEBHOOK_ALLOW_PRIVATE: 'true',
  WEBHOOK_RETRY_DELAYS: '1,1,1',
  WEBHOOK_RESTART_AFTER_SECONDS: '3',
  WEBHOOK_DISABLE_AFTER_SECONDS: '8',
};

let running: EphemeralStack | undefined;

export default async function setup(project: TestProject) {
  const adminToken = 'e2e-admin-token-0123456789';
  const logs: string[] = [];
  try {
    running = await startEphemeralStack({
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
  const { stack, mock } = running;
  project.provide('apiUrl', stack.apiUrl);
  project.provide('mockUrl', mock.url);
  project.provide('adminToken', adminToken);
  project.provide('databaseUrl', stack.databaseUrl);
  project.provide('temporalAddress', stack.temporalAddress);
  project.provide('workerMetricsUrl', stack.workerMetricsUrl);

  return async () => {
    await running?.stop();
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
