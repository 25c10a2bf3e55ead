// The layout rules of ARCHITECTURE.md, checked: kernels never import feature rooms, route files never
// import each other, workflows are started through their typed refs, and files stay small.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

const API_SRC = import.meta.dirname;
const ROOT = resolve(API_SRC, '../..');
const KERNELS = ['http', 'auth', 'limits'];

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (name === 'node_modules' || name === 'dist') return [];
    if (statSync(path).isDirectory()) return sourceFiles(path);
    return name.endsWith('.ts') ? [path] : [];
  });
}

/** Relative imports of a file, resolved to paths. */
function localImports(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  return [...text.matchAll(/from '(\.{1,2}\/[^']+)'/g)].map((m) => resolve(dirname(file), m[1] ?? ''));
}

const roomOf = (file: string) => relative(API_SRC, file).split('/')[0] ?? '';
const apiFiles = sourceFiles(API_SRC).filter((f) => !f.endsWith('.test.ts'));

describe('api layout', () => {
  it('has no catch-all domain/ or routes/ folder', () => {
    const top = readdirSync(API_SRC);
    expect(top).not.toContain('domain');
    expect(top).not.toContain('routes');
  });

  it('kernels (http, auth, limits) never import a feature room', () => {
    const offending = apiFiles
      .filter((f) => KERNELS.includes(roomOf(f)))
      .flatMap((f) =>
        localImports(f)
          .filter((target) => target.startsWith(API_SRC))
          .filter((target) => {
            const room = roomOf(target);
            return room.includes('.') ? false : !KERNELS.includes(room);
          })
          .map((target) => `${relative(API_SRC, f)} → ${relative(API_SRC, target)}`),
      );
    expect(offending).toEqual([]);
  });

  it('no route file imports another', () => {
    const offending = apiFiles
      .filter((f) => f.endsWith('.routes.ts'))
      .flatMap((f) =>
        localImports(f)
          .filter((t) => t.endsWith('.routes.ts'))
          .map((t) => `${relative(API_SRC, f)} → ${relative(API_SRC, t)}`),
      );
    expect(offending).toEqual([]);
  });

  it('starts and reads workflows only through the typed seam in temporal.ts', () => {
    const offending = apiFiles
      .filter((f) => !f.endsWith('temporal.ts'))
      .filter((f) => /\.workflow\.(start|getHandle|execute|signalWithStart)\(/.test(readFileSync(f, 'utf8')))
      .map((f) => relative(API_SRC, f));
    expect(offending).toEqual([]);
  });
});

describe('file size', () => {
  it('no source file over ~350 lines without a reason stated at its top', () => {
    const packages = [
      'api/src',
      'workers/src',
      'workflows/src',
      'infra/src',
      'infra/dev/src',
      'sdk/src',
      'cli/src',
    ];
    const offending = packages
      .flatMap((p) => sourceFiles(join(ROOT, p)))
      .filter((f) => !f.endsWith('.test.ts'))
      .filter((f) => {
        const text = readFileSync(f, 'utf8');
        const lines = text.split('\n').length;
        // a reason is a leading comment (the file's first line) that says why it is one file
        return lines > 360 && !/^(\/\/|\/\*\*)/.test(text);
      })
      .map((f) => relative(ROOT, f));
    expect(offending).toEqual([]);
  });
});
