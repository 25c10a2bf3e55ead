// @promptmill/workers/provider-call is what the api imports for its direct mode: it must not pull
// Temporal (the worker's native core, or the activity context) into the api.
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runtimeImports } from '../../../test/import-graph.ts';

describe('@promptmill/workers/provider-call', () => {
  it('loads no Temporal package', () => {
    const { files, packages } = runtimeImports(resolve(import.meta.dirname, 'index.ts'));
    expect(files.size).toBeGreaterThan(5);
    expect([...packages].filter((p) => p.startsWith('@temporalio/'))).toEqual([]);
    expect(packages).toContain('openai');
  });

  it('@promptmill/workers/provider-env (the api env reads it in either mode) loads neither Temporal nor the provider SDK', () => {
    const { packages } = runtimeImports(resolve(import.meta.dirname, '../providers/provider-env.ts'));
    expect([...packages].filter((p) => p.startsWith('@temporalio/') || p === 'openai')).toEqual([]);
  });

  it('(the check sees Temporal where it is: the activities and the worker)', () => {
    const { packages } = runtimeImports(resolve(import.meta.dirname, '../index.ts'));
    expect(packages).toContain('@temporalio/activity');
    expect(packages).toContain('@temporalio/worker');
  });
});
