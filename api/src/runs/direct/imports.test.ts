// Direct mode's provider code (the openai SDK) is loaded only when SYNC_RUN_MODE=direct (main.ts imports
// direct/index.ts dynamically), and neither mode loads the Temporal worker or activity packages.
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runtimeImports } from '../../../../test/import-graph.ts';

const API_SRC = resolve(import.meta.dirname, '../..');
const temporalWorkerSide = (packages: Set<string>) =>
  [...packages].filter((p) => p === '@temporalio/worker' || p === '@temporalio/activity');

describe('the api import graph', () => {
  it('in workflow mode (main.ts without direct/index.ts): no provider SDK, no provider-call code', () => {
    const { files, packages } = runtimeImports(resolve(API_SRC, 'main.ts'));
    expect(packages).toContain('express');
    expect(packages).not.toContain('openai');
    expect([...files].filter((f) => f.includes('/provider-call/') || f.endsWith('direct/index.ts'))).toEqual(
      [],
    );
    expect(temporalWorkerSide(packages)).toEqual([]);
  });

  it('in direct mode: the provider SDK and provider-call module, still nothing of the Temporal worker', () => {
    const { files, packages } = runtimeImports(resolve(API_SRC, 'runs/direct/index.ts'));
    expect(packages).toContain('openai');
    expect([...files].some((f) => f.endsWith('provider-call/provider-call.ts'))).toBe(true);
    expect(temporalWorkerSide(packages)).toEqual([]);
  });
});
