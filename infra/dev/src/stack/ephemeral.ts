import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type MockProvider, startMockProvider } from '../mock-provider/index.ts';
import { type Stack, startStack } from './stack.ts';

export interface EphemeralStack {
  stack: Stack;
  mock: MockProvider;
  dataDir: string;
  stop(): Promise<void>;
}

/**
 * A throwaway stack for tests and benchmarks: a temp data dir, free loopback ports everywhere,
 * headless Temporal, and a fresh mock provider as the model provider.
 */
export async function startEphemeralStack(opts: {
  adminToken: string;
  env?: NodeJS.ProcessEnv;
  apiProcesses?: number;
  temporalInMemory?: boolean;
  log?: (line: string) => void;
}): Promise<EphemeralStack> {
  const dataDir = mkdtempSync(join(tmpdir(), 'promptmill-'));
  const mock = await startMockProvider({ port: 0 });
  try {
    const stack = await startStack({
      dataDir,
      apiPort: 0,
      temporalPort: 0,
      temporalUiPort: 0,
      postgresPort: 0,
      workerMetricsPort: 0,
      headless: true,
      temporalInMemory: opts.temporalInMemory ?? false,
      providerBaseUrl: mock.url,
      adminToken: opts.adminToken,
      ...(opts.env ? { env: opts.env } : {}),
      ...(opts.apiProcesses ? { apiProcesses: opts.apiProcesses } : {}),
      log: opts.log ?? (() => {}),
    });
    return {
      stack,
      mock,
      dataDir,
      stop: async () => {
        await stack.stop();
        await mock.close();
        rmSync(dataDir, { recursive: true, force: true });
      },
    };
  } catch (err) {
    await mock.close();
    rmSync(dataDir, { recursive: true, force: true });
    throw err;
  }
}
