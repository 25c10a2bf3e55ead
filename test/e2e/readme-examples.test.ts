// Runs every code example of the README's "SDK and CLI" section against the e2e stack: ```ts readme-test
// blocks as Node scripts importing @promptmill/sdk (from source), ```sh readme-test blocks with bash and a
// `promptmill` function running the CLI from source. A block tagged `needs=/v1/x` fails unless the api
// serves that path (every group is on main now, so none is skipped).
import { spawn } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { apiUrl, createOrg, type TestOrg } from './helpers.ts';
import { CLI_MAIN, ROOT, sdk, servedOpenApi } from './sdk-support.ts';

interface Block {
  lang: string;
  needs: string | undefined;
  code: string;
  line: number;
}

async function readmeBlocks(): Promise<{ tested: Block[]; untested: string[] }> {
  const readme = await readFile(join(ROOT, 'README.md'), 'utf8');
  const start = readme.indexOf('<!-- sdk-cli:start');
  const end = readme.indexOf('<!-- sdk-cli:end -->');
  if (start < 0 || end < start) throw new Error('README has no sdk-cli section markers');
  const section = readme.slice(start, end);
  const firstLine = readme.slice(0, start).split('\n').length;
  const tested: Block[] = [];
  const untested: string[] = [];
  for (const m of section.matchAll(/^```(\S*)([^\n]*)\n([\s\S]*?)^```$/gm)) {
    const line = firstLine + section.slice(0, m.index).split('\n').length - 1;
    if (!m[2]!.includes('readme-test')) {
      untested.push(`README.md:${line} (${m[1] || 'no language'})`);
      continue;
    }
    tested.push({ lang: m[1]!, needs: /needs=(\S+)/.exec(m[2]!)?.[1], code: m[3]!, line });
  }
  return { tested, untested };
}

function run(
  cmd: string,
  args: string[],
  opts: { cwd: string; env: Record<string, string> },
  timeoutMs = 45_000,
) {
  return new Promise<{ code: number; stdout: string; stderr: string }>((done, fail) => {
    const child = spawn(cmd, args, {
      cwd: opts.cwd,
      env: { PATH: process.env.PATH ?? '', HOME: opts.cwd, ...opts.env },
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => {
      stdout += d.toString();
    });
    child.stderr.on('data', (d: Buffer) => {
      stderr += d.toString();
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('error', fail);
    child.on('close', (code) => {
      clearTimeout(timer);
      done({ code: code ?? -1, stdout, stderr });
    });
  });
}

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}

let org: TestOrg;
let dir: string;
let env: Record<string, string>;
const blocks = await readmeBlocks();

beforeAll(async () => {
  org = await createOrg({ plan: 'enterprise' });
  const pm = sdk(org.key);
  await pm.prompts.create({
    name: 'support-reply',
    description: 'Answers a support ticket',
    tags: ['support'],
  });
  await pm.prompts.versions.create('support-reply', {
    messages: [
      { role: 'system', content: 'You are a support agent for {{product|Acme}}.' },
      { role: 'user', content: 'Ticket: {{ticket}}' },
    ],
    model: 'mock-1',
    labels: ['production'],
  });
  dir = await mkdtemp(join(tmpdir(), 'promptmill-readme-'));
  // the examples import '@promptmill/sdk' as an installed package would be
  await mkdir(join(dir, 'node_modules', '@promptmill'), { recursive: true });
  await symlink(join(ROOT, 'sdk'), join(dir, 'node_modules', '@promptmill', 'sdk'));
  await writeFile(join(dir, 'package.json'), '{"type":"module","private":true}\n');
  env = {
    PROMPTMILL_API_KEY: org.key,
    PROMPTMILL_BASE_URL: apiUrl,
    XDG_CONFIG_HOME: join(dir, 'config'),
  };
});
afterAll(() => rm(dir, { recursive: true, force: true }));

describe('README: SDK and CLI examples', () => {
  it('every code block in the section is tagged readme-test (so every example runs here)', () => {
    expect(blocks.untested).toEqual([]);
    expect(blocks.tested.filter((b) => b.lang === 'ts').length).toBeGreaterThanOrEqual(4);
    expect(blocks.tested.filter((b) => b.lang === 'sh').length).toBeGreaterThanOrEqual(1);
  });

  for (const block of blocks.tested) {
    it(`README.md:${block.line} (${block.lang}) runs`, async () => {
      if (block.needs) {
        // every route group is on main now: an example whose routes are not served fails, it is not skipped
        const doc = await servedOpenApi();
        const paths = Object.keys(doc.paths);
        expect(paths.some((p) => p === block.needs || p.startsWith(`${block.needs}/`))).toBe(true);
      }
      if (block.lang === 'ts') {
        const file = join(dir, `example-${block.line}.ts`);
        await writeFile(file, block.code);
        const r = await run(process.execPath, ['--conditions=@promptmill/source', file], {
          cwd: dir,
          env: { ...env, PORT: String(await freePort()) },
        });
        expect(r.stderr).toBe('');
        expect(r.code).toBe(0);
        expect(r.stdout).toMatch(/Echo: |verified prompt\.executed run_/);
      } else if (block.lang === 'sh') {
        const script = `set -euo pipefail\npromptmill() { "${process.execPath}" --conditions=@promptmill/source "${CLI_MAIN}" "$@"; }\n${block.code}`;
        const r = await run('bash', ['-c', script], { cwd: dir, env }, 90_000);
        expect(r.stderr).not.toMatch(/^promptmill: /m);
        expect(r.code).toBe(0);
        expect(r.stdout).toContain('Echo: ');
        expect(r.stderr).toContain('support-reply: v2 created');
        expect((await sdk(org.key).prompts.get('support-reply')).latestVersion).toBe(2);
      } else throw new Error(`README.md:${block.line}: no runner for ${block.lang}`);
    });
  }
});
