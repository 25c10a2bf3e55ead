import { defaultServerConditions } from 'vite';
import { defineConfig } from 'vitest/config';

export default defineConfig({
  // the SDK and CLI packages export built files; this condition points workspace imports at their sources
  ssr: { resolve: { conditions: ['@promptmill/source', ...defaultServerConditions] } },
  test: {
    projects: [
      {
        test: {
          name: 'unit',
          include: [
            '{api,workers,workflows,infra}/src/**/*.test.ts',
            'infra/dev/src/**/*.test.ts',
            // the SDK and the CLI on their own (no stack): webhook signatures, retry delays, prompt files
            '{sdk,cli}/src/**/*.test.ts',
            // reads the production compose file and gateway config (no Docker engine needed)
            'test/deploy/**/*.test.ts',
            // promtool checks and rule unit tests, dashboards as code (no stack needed)
            'test/ops/**/*.test.ts',
          ],
          testTimeout: 20_000,
        },
      },
      {
        test: {
          // emulates the Docker runtime stage's `npm install --omit=dev` (needs the registry, ~15 s)
          name: 'install',
          include: ['test/production-install.test.ts'],
        },
      },
      {
        test: {
          name: 'e2e',
          include: ['test/e2e/**/*.test.ts'],
          globalSetup: ['test/e2e/global-setup.ts'],
          testTimeout: 60_000,
          hookTimeout: 180_000,
          // the shared stack is one set of processes; 2 cores → 2 files at a time
          maxWorkers: 2,
        },
      },
    ],
  },
});
