// @promptmill/workers/provider-call is what the api imports for its direct mode: it must not pull
// Temporal (the worker's native core, or the activity context) into the api.
import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = resolve(import.meta.dirname, '../../..');
/** The repo's own packages, by name: their exports map specifiers to files. */
const PACKAGES: Record<string, string> = {
  '@promptmill/workers': 'workers',
  '@promptmill/workflows': 'workflows',
  '@promptmill/infra': 'infra',
};

function resolveWorkspace(specifier: string): string | undefined {
  for (const [name, dir] of Object.entries(PACKAGES)) {
    if (specifier !== name && !specifier.startsWith(`${name}/`)) continue;
    const exports = JSON.parse(readFileSync(resolve(ROOT, dir, 'package.json'), 'utf8')).exports as Record<
      string,
      string
    >;
    const target = exports[`.${specifier.slice(name.length)}`];
    if (!target) throw new Error(`${specifier} is not exported by ${name}`);
    return resolve(ROOT, dir, target);
  }
  return undefined;
}

/** Every module loaded at run time from `entry` (type-only imports are erased, so skipped). */
function runtimeImports(entry: string): { files: Set<string>; packages: Set<string> } {
  const files = new Set<string>();
  const packages = new Set<string>();
  const visit = (file: string) => {
    if (files.has(file)) return;
    files.add(file);
    const text = readFileSync(file, 'utf8');
    for (const m of text.matchAll(/^(?:import|export)\s+(type\s+)?[^;]*?from\s+'([^']+)'/gms)) {
      if (m[1]) continue;
      const specifier = m[2]!;
      if (specifier.startsWith('.')) visit(resolve(dirname(file), specifier));
      else {
        const local = resolveWorkspace(specifier);
        if (local) visit(local);
        else
          packages.add(
            specifier.startsWith('@') ? specifier.split('/').slice(0, 2).join('/') : specifier.split('/')[0]!,
          );
      }
    }
  };
  visit(entry);
  return { files, packages };
}

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
