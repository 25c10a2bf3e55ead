// The README's configuration table is the generator's output (scripts/env-table.ts, from the env
// schemas), and every variable the local stack, the setup script, the SDK and the CLI read is in it.
import { readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { table } from '../../scripts/env-table.ts';

const ROOT = resolve(import.meta.dirname, '../..');
const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');

function sources(dir: string): string[] {
  return readdirSync(join(ROOT, dir), { recursive: true, encoding: 'utf8' })
    .filter((f) => f.endsWith('.ts') && !f.endsWith('.test.ts'))
    .map((f) => readFileSync(join(ROOT, dir, f), 'utf8'));
}

describe('README configuration table', () => {
  it('is what `npx tsx scripts/env-table.ts --write` writes', () => {
    const start = readme.indexOf('<!-- env-table:start -->\n');
    const end = readme.indexOf('\n<!-- env-table:end -->');
    expect(start).toBeGreaterThan(0);
    expect(readme.slice(start + '<!-- env-table:start -->\n'.length, end)).toBe(table);
  });

  it('names every variable the local stack, setup, the SDK and the CLI read', () => {
    const read = new Set<string>();
    for (const dir of ['infra/dev/src', 'sdk/src', 'cli/src'])
      for (const src of sources(dir))
        for (const m of src.matchAll(/process\.env(?:\.|\[['"])([A-Z][A-Z0-9_]+)/g)) read.add(m[1]!);
    // variables a shell script lets the environment override: ${NAME:-default}
    for (const m of readFileSync(join(ROOT, 'scripts/setup.sh'), 'utf8').matchAll(/\$\{([A-Z][A-Z0-9_]+):-/g))
      read.add(m[1]!);
    const system = new Set([
      'PATH',
      'HOME',
      'TMPDIR',
      'NODE_ENV',
      'NODE_OPTIONS',
      'XDG_CONFIG_HOME',
      'APPDATA',
    ]);
    const missing = [...read].filter((v) => !system.has(v) && !table.includes(`\`${v}\``));
    expect(missing).toEqual([]);
  });
});
