// The packages as published (built ESM + .d.ts, no source condition) on the oldest Node they support:
// builds sdk/dist and cli/dist with tsc, then runs the built CLI and a script importing the built SDK
// with a Node 20–23 binary from the machine (skipped, with the reason, when there is none).
import { execFile, execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { apiUrl, createOrg, createPrompt, type TestOrg } from './helpers.ts';
import { ROOT } from './sdk-support.ts';

const run = promisify(execFile);

function olderNode(): string | undefined {
  for (const bin of [process.env.PROMPTMILL_OLD_NODE, '/usr/bin/node', '/usr/local/bin/node']) {
    if (!bin || !existsSync(bin)) continue;
    try {
      const major = Number(
        execFileSync(bin, ['-p', 'process.versions.node.split(".")[0]'], { encoding: 'utf8' }).trim(),
      );
      if (major >= 20 && major < 24) return bin;
    } catch {
      // not runnable
    }
  }
  return undefined;
}

const node = olderNode();
let org: TestOrg;
let dir: string;

beforeAll(async () => {
  if (!node) return;
  const tsc = join(ROOT, 'node_modules', '.bin', 'tsc');
  await run(tsc, ['-p', join(ROOT, 'sdk', 'tsconfig.build.json')], { cwd: ROOT });
  await run(tsc, ['-p', join(ROOT, 'cli', 'tsconfig.build.json')], { cwd: ROOT });
  org = await createOrg({ plan: 'enterprise' });
  dir = await mkdtemp(join(tmpdir(), 'promptmill-dist-'));
  await mkdir(join(dir, 'node_modules', '@promptmill'), { recursive: true });
  await symlink(join(ROOT, 'sdk'), join(dir, 'node_modules', '@promptmill', 'sdk'));
  await writeFile(join(dir, 'package.json'), '{"type":"module","private":true}\n');
}, 120_000);
afterAll(() => (dir ? rm(dir, { recursive: true, force: true }) : undefined));

describe('built packages on Node 20+', () => {
  it.skipIf(!node)('the built CLI runs and streams a prompt', async () => {
    const name = await createPrompt(org.key, { template: 'Built {{x}}' });
    const env = {
      PATH: process.env.PATH,
      PROMPTMILL_API_KEY: org.key,
      PROMPTMILL_BASE_URL: apiUrl,
      HOME: dir,
    };
    const cliMain = join(ROOT, 'cli', 'dist', 'main.js');
    const plain = await run(node!, [cliMain, 'run', name, '--var', 'x=plain'], { env });
    expect(plain.stdout).toBe('Echo: Built plain\n');
    const streamed = await run(node!, [cliMain, 'run', name, '--var', 'x=streamed', '--stream'], { env });
    expect(streamed.stdout).toBe('Echo: Built streamed\n');
  });

  it.skipIf(!node)(
    'a script importing the built SDK runs, streams and verifies a webhook signature',
    async () => {
      const name = await createPrompt(org.key, { template: 'From {{x}}' });
      const script = join(dir, 'script.mjs');
      await writeFile(
        script,
        `import { Promptmill, verifyWebhook } from '@promptmill/sdk';
import { createHmac } from 'node:crypto';
const pm = new Promptmill();
const r = await pm.run(${JSON.stringify(name)}, { x: 'node ' + process.versions.node.split('.')[0] });
const s = await pm.stream(${JSON.stringify(name)}, { x: 'stream' });
let text = '';
for await (const d of s) text += d;
const secret = 'whsec_' + Buffer.from('k'.repeat(32)).toString('base64');
const body = JSON.stringify({ id: 'evt_1', event: 'webhook.test' });
const sig = 'sha256=' + createHmac('sha256', secret).update(body).digest('hex');
const event = await verifyWebhook(body, { 'x-promptmill-signature': sig }, secret);
console.log(JSON.stringify({ output: r.output, text, event: event.event }));
`,
      );
      const out = await run(node!, [script], {
        cwd: dir,
        env: { PATH: process.env.PATH, PROMPTMILL_API_KEY: org.key, PROMPTMILL_BASE_URL: apiUrl },
      });
      const major = execFileSync(node!, ['-p', 'process.versions.node.split(".")[0]'], {
        encoding: 'utf8',
      }).trim();
      expect(JSON.parse(out.stdout)).toEqual({
        output: `Echo: From node ${major}`,
        text: 'Echo: From stream',
        event: 'webhook.test',
      });
    },
  );
});
