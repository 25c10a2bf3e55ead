// The promptmill CLI as a user runs it (a child process, from source) against the real stack.
import { mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { main } from '../../cli/src/index.ts';
import { createOrg, createPrompt, mock, type TestOrg, unique } from './helpers.ts';
import { cli, missingRoutes, sdk } from './sdk-support.ts';

let org: TestOrg;
let work: string;
let env: Record<string, string>;

beforeAll(async () => {
  org = await createOrg({ plan: 'enterprise' });
  work = await mkdtemp(join(tmpdir(), 'promptmill-cli-'));
  env = { PROMPTMILL_API_KEY: org.key, XDG_CONFIG_HOME: join(work, 'config') };
});
afterAll(() => rm(work, { recursive: true, force: true }));

async function versionCount(name: string): Promise<number> {
  return (await sdk(org.key).prompts.get(name)).latestVersion;
}

describe('promptmill prompts pull / diff / push', () => {
  it('pull → edit → push creates exactly one version; a second push creates none; diff shows the change', async () => {
    const chat = unique('cli-chat');
    await sdk(org.key).prompts.create({ name: chat, description: 'support', tags: ['cli'] });
    await sdk(org.key).prompts.versions.create(chat, {
      messages: [
        { role: 'system', content: 'You are helpful.' },
        { role: 'user', content: 'Ticket: {{ticket}}' },
      ],
      model: 'mock-1',
      params: { temperature: 0.3 },
      labels: ['production'],
    });
    const text = await createPrompt(org.key, { template: 'Hello {{name|there}}' });
    const dir = join(work, 'prompts');

    const pulled = await cli(['prompts', 'pull', '--dir', dir], { env });
    expect(pulled.stderr).toContain(`pulled ${chat} v1`);
    expect(pulled.code).toBe(0);
    const files = (await readdir(dir)).sort();
    expect(files).toEqual([`${chat}.prompt.md`, `${text}.prompt.md`].sort());
    const chatFile = join(dir, `${chat}.prompt.md`);
    const original = await readFile(chatFile, 'utf8');
    expect(original).toContain('::: system\nYou are helpful.\n::: user\nTicket: {{ticket}}\n');
    expect(original).toMatch(/labels:\n\s+- production/);

    // nothing changed yet: push creates nothing
    const noop = await cli(['prompts', 'push', '--dir', dir], { env });
    expect(noop.code).toBe(0);
    expect(noop.stderr).toContain('0 new versions');

    await writeFile(chatFile, original.replace('You are helpful.', 'You are helpful and brief.'));
    const diff = await cli(['prompts', 'diff', '--dir', dir], { env });
    expect(diff.code).toBe(0);
    expect(diff.stdout).toContain(`--- ${chat} v1`);
    expect(diff.stdout).toContain('-You are helpful.\n+You are helpful and brief.');
    expect(diff.stdout).toContain(`= ${text} (v1, unchanged)`);

    const pushed = await cli(['prompts', 'push', '--dir', dir, '--message', 'shorter answers'], { env });
    expect(pushed.code).toBe(0);
    expect(pushed.stderr).toContain(`${chat}: v2 created`);
    expect(pushed.stderr).toContain('1 new version');
    expect(await versionCount(chat)).toBe(2);
    expect(await versionCount(text)).toBe(1);
    const v2 = await sdk(org.key).prompts.versions.get(chat, 2);
    expect(v2).toMatchObject({
      commitMessage: 'shorter answers',
      labels: ['production'],
      params: { temperature: 0.3 },
    });
    expect(v2.messages?.[0]?.content).toBe('You are helpful and brief.');

    const again = await cli(['prompts', 'push', '--dir', dir], { env });
    expect(again.stderr).toContain('0 new versions');
    expect(await versionCount(chat)).toBe(2);
    const clean = await cli(['prompts', 'diff', '--dir', dir, '--json'], { env });
    expect(JSON.parse(clean.stdout).prompts.map((p: { action: string }) => p.action)).toEqual([
      'unchanged',
      'unchanged',
    ]);

    // a new file creates its prompt; --json reports it
    await writeFile(
      join(dir, 'brand-new.prompt.md'),
      '---\nname: brand-new\nmodel: mock-1\nlabels: [production]\n---\nNew {{thing}}\n',
    );
    const created = await cli(['prompts', 'push', '--dir', dir, '--json'], { env });
    expect(JSON.parse(created.stdout)).toMatchObject({ versionsCreated: 1 });
    expect((await sdk(org.key).run('brand-new', { thing: 'x' })).output).toBe('Echo: New x');
  });

  it('hostile prompt names stay inside the folder and round-trip without new versions', async () => {
    const dir = join(work, 'hostile');
    const names = [`../../escape-${unique('x')}`, `ünï côdé/${unique('y')}`, `.hidden-${unique('z')}`];
    for (const name of names) {
      await sdk(org.key).prompts.create({ name });
      await sdk(org.key).prompts.versions.create(name, {
        template: '---\n::: user\nnot front matter, not a role line {{v}}\n',
        model: 'mock-1',
      });
    }
    const pulled = await cli(['prompts', 'pull', '--dir', dir, ...names], { env });
    expect(pulled.code).toBe(0);
    const files = await readdir(dir);
    expect(files).toHaveLength(3);
    for (const f of files) expect(f).toMatch(/^[A-Za-z0-9_][A-Za-z0-9._-]*\.prompt\.md$/);
    const again = await cli(['prompts', 'push', '--dir', dir], { env });
    expect(again.stderr).toContain('0 new versions');
    for (const name of names) expect(await versionCount(name)).toBe(1);
  });

  it('a broken prompt file is a one-line error naming the file, and nothing is pushed', async () => {
    const dir = join(work, 'broken');
    await cli(['prompts', 'pull', '--dir', dir, 'no-such-prompt'], { env }).then((r) => {
      expect(r.code).toBe(1);
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
      expect(r.stderr).toMatch(/^promptmill: PROMPT_NOT_FOUND: .*\(request /);
    });
    await writeFile(join(dir, 'bad.prompt.md'), '---\nname: bad\n---\nno model\n');
    const r = await cli(['prompts', 'push', '--dir', dir], { env });
    expect(r.code).toBe(1);
    expect(r.stderr).toBe(`promptmill: ${join(dir, 'bad.prompt.md')}: 'model' is required\n`);
  });
});

describe('promptmill run', () => {
  it('prints the output, streams it, and reports a mid-stream failure as one line with exit 1', async () => {
    const name = await createPrompt(org.key, { template: 'Write about {{topic}}' });
    const r = await cli(['run', name, '--var', 'topic=ducks'], { env });
    expect(r.code).toBe(0);
    expect(r.stdout).toBe('Echo: Write about ducks\n');
    expect(r.stderr).toMatch(/^run_\S+ · mock-1 · \d+\+\d+ tokens/);

    const s = await cli(['run', name, '--var', 'topic=geese', '--stream'], { env });
    expect(s.code).toBe(0);
    expect(s.stdout).toBe('Echo: Write about geese\n');

    const j = await cli(['run', name, '--vars', '{"topic":"swans"}', '--json'], { env });
    expect(JSON.parse(j.stdout)).toMatchObject({ success: true, output: 'Echo: Write about swans' });

    const marker = unique('cli-break');
    const breaking = await createPrompt(org.key, { template: `${marker} a b c d e f` });
    const rule = await mock.addRule({
      match: { contains: marker },
      action: { type: 'break-stream', afterChunks: 2 },
    });
    try {
      const b = await cli(['run', breaking, '--stream'], { env });
      expect(b.code).toBe(1);
      expect(b.stdout.length).toBeGreaterThan(0);
      expect(b.stderr).toMatch(
        /^promptmill: PROVIDER_ERROR: The stream from model 'mock-1' broke after 2 chunks.*\(run run_[\w-]+\)\n$/,
      );
    } finally {
      await mock.removeRule(rule);
    }
  });

  it('bad input: one line on stderr and a non-zero exit code', async () => {
    const name = await createPrompt(org.key, { template: 'x {{y}}' });
    const cases: Array<[string[], number, RegExp]> = [
      [['run', name], 1, /^promptmill: MISSING_VARIABLES: /],
      [
        ['run', name, '--var', 'novalue'],
        2,
        /^promptmill: --var takes name=value, got 'novalue' \(see --help\)$/,
      ],
      [['run', name, '--bogus'], 2, /^promptmill: Unknown option '--bogus'/],
      [['run'], 2, /^promptmill: Missing argument: /],
      [['frobnicate'], 2, /^promptmill: Unknown command 'frobnicate'/],
      [['run', 'no-such-prompt'], 1, /^promptmill: PROMPT_NOT_FOUND: Prompt 'no-such-prompt' not found/],
      [['usage', '--group-by', 'planet'], 2, /^promptmill: --group-by must be one of key, prompt, model/],
    ];
    for (const [args, code, message] of cases) {
      const r = await cli(args, { env });
      expect({ args, code: r.code }).toEqual({ args, code });
      expect(r.stderr.trim().split('\n'), args.join(' ')).toHaveLength(1);
      expect(r.stderr.trim()).toMatch(message);
    }
    const nokey = await cli(['run', name], { env: { XDG_CONFIG_HOME: join(work, 'empty') } });
    expect(nokey).toMatchObject({
      code: 1,
      stderr: 'promptmill: No API key: run `promptmill login`, or set PROMPTMILL_API_KEY\n',
    });
    const revoked = await cli(['run', name], {
      env: { ...env, PROMPTMILL_API_KEY: `pm_live_${'f'.repeat(64)}` },
    });
    expect(revoked).toMatchObject({ code: 1 });
    expect(revoked.stderr).toMatch(/^promptmill: UNAUTHORIZED: Invalid API key \(request \S+\)\n$/);
  });

  it('every command has --help (in process: the same dispatcher, without a Node start per command)', async () => {
    expect((await cli(['run', '--help'])).stdout).toMatch(/^Usage: promptmill run PROMPT/);
    for (const args of [
      [],
      ['login'],
      ['prompts', 'pull'],
      ['prompts', 'push'],
      ['prompts', 'diff'],
      ['run'],
      ['runs', 'tail'],
      ['keys', 'create'],
      ['keys', 'list'],
      ['keys', 'revoke'],
      ['keys', 'rotate'],
      ['usage'],
      ['webhooks', 'list'],
      ['webhooks', 'create'],
      ['webhooks', 'delete'],
      ['webhooks', 'test'],
      ['webhooks', 'deliveries'],
      ['prompts'],
      ['keys'],
      ['webhooks'],
    ]) {
      let stdout = '';
      const sink = new Writable({
        write(chunk, _enc, done) {
          stdout += String(chunk);
          done();
        },
      });
      const code = await main([...args, '--help'], {
        stdout: sink,
        stderr: sink,
        env: {},
        readStdin: async () => '',
        isTTY: false,
      });
      expect({ args, code }).toEqual({ args, code: 0 });
      expect(stdout).toMatch(/Usage: promptmill/);
    }
  });
});

describe('promptmill login, keys, runs tail, usage', () => {
  it('login saves the key with mode 0600; later commands use it', async () => {
    const config = join(work, 'login-config');
    const r = await cli(['login'], { env: { XDG_CONFIG_HOME: config }, stdin: `${org.key}\n` });
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(/^Logged in to http:\/\/127\.0\.0\.1:\d+ as pm_live_/);
    const file = join(config, 'promptmill', 'config.json');
    expect((await stat(file)).mode & 0o777).toBe(0o600);
    expect((await stat(join(config, 'promptmill'))).mode & 0o777).toBe(0o700);
    expect(JSON.parse(await readFile(file, 'utf8'))).toMatchObject({ apiKey: org.key });
    const keys = await cli(['keys', 'list', '--json'], { env: { XDG_CONFIG_HOME: config } });
    expect(JSON.parse(keys.stdout).map((k: { id: string }) => k.id)).toContain(org.keyId);
    const bad = await cli(['login', '--api-key', 'nope'], { env: { XDG_CONFIG_HOME: config } });
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/^promptmill: UNAUTHORIZED: Invalid API key format \(request \S+\)\n$/);
    // a key that does not work is not saved over the one that does
    expect(JSON.parse(await readFile(file, 'utf8'))).toMatchObject({ apiKey: org.key });
  });

  it('keys create | list | rotate | revoke', async () => {
    const created = await cli(
      ['keys', 'create', '--name', 'ci', '--scope', 'prompts:read', '--per-minute', '50'],
      { env },
    );
    expect(created.code).toBe(0);
    const secret = created.stdout.trim();
    expect(secret).toMatch(/^pm_live_[0-9a-f]{64}$/);
    const id = /created (key_\S+)/.exec(created.stderr)![1]!;
    const list = await cli(['keys', 'list'], { env });
    expect(list.stdout).toMatch(
      new RegExp(`${id}\\s+ci\\s+pm_live_\\w{4}\\.\\.\\.\\w{4}\\s+active\\s+prompts:read`),
    );
    const rotated = await cli(['keys', 'rotate', id, '--grace-period', '0', '--json'], { env });
    expect(JSON.parse(rotated.stdout)).toMatchObject({ id, key: expect.stringMatching(/^pm_live_/) });
    const revoked = await cli(['keys', 'revoke', id], { env });
    expect(revoked).toMatchObject({ code: 0, stderr: `revoked ${id} (ci)\n` });
    expect((await sdk(org.key).keys.get(id)).status).toBe('revoked');
  });

  it('runs tail prints runs as they finish', async () => {
    const name = await createPrompt(org.key, { template: 'tail me' });
    const tail = cli(
      ['runs', 'tail', '--prompt', name, '--lines', '0', '--limit', '1', '--interval', '300'],
      { env },
    );
    await new Promise((r) => setTimeout(r, 1500));
    const { runId } = await sdk(org.key).run(name);
    const r = await tail;
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(
      new RegExp(`^\\S+  ${runId}  succeeded  ${name} v1  mock-1  \\d+ tok  \\d+ ms\\n$`),
    );
  });

  it('usage prints a table (and --json)', async () => {
    const reason = await missingRoutes(['GET', '/v1/usage']);
    expect(reason).toBeUndefined(); // every group is on main: a missing route fails, it is not skipped
    const name = await createPrompt(org.key, { template: 'counted' });
    await sdk(org.key).run(name);
    const json = await cli(['usage', '--group-by', 'prompt', '--json'], { env });
    expect(json.code).toBe(0);
    const report = JSON.parse(json.stdout);
    expect(report.groups.find((g: { name: string }) => g.name === name)).toMatchObject({
      totals: { requests: 1 },
    });
    const table = await cli(['usage', '--group-by', 'prompt'], { env });
    expect(table.code).toBe(0);
    expect(table.stdout.split('\n')[0]).toMatch(
      /^PROMPT\s+ID\s+REQUESTS\s+ERRORS\s+TOKENS\s+COST USD\s+AVG MS\s+P95 MS$/,
    );
    expect(table.stdout).toMatch(new RegExp(`\\n${name}\\s+pmt_\\S+\\s+1\\s+0\\s+\\d+`));
    expect(table.stdout).toMatch(/\nTOTAL\s+\d+/);
    const hourly = await cli(['usage'], { env });
    expect(hourly.stdout.split('\n')[0]).toMatch(/^FROM\s+REQUESTS/);
  });
});
