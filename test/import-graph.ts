// What a module loads at run time, by reading the sources: the repo's files it reaches and the npm
// packages they import. Type-only imports are skipped (erased). For tests that keep heavy or
// Temporal-only code out of a process's import graph.
import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';

const ROOT = resolve(import.meta.dirname, '..');
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
export function runtimeImports(entry: string): { files: Set<string>; packages: Set<string> } {
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
