// `promptmill webhooks list|create|delete|test|deliveries` as a user runs it (a child process, from
// source) against the real stack, with a local endpoint that receives the signed test delivery.
import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { verifyWebhook } from '../../sdk/src/index.ts';
import { createOrg, type TestOrg } from './helpers.ts';
import { cli, sdk } from './sdk-support.ts';

let org: TestOrg;
let env: Record<string, string>;
const received: Array<{ body: Buffer; headers: IncomingHttpHeaders }> = [];
const server = createServer((req, res) => {
  const chunks: Buffer[] = [];
  req.on('data', (c: Buffer) => chunks.push(c));
  req.on('end', () => {
    received.push({ body: Buffer.concat(chunks), headers: req.headers });
    res.writeHead(204).end();
  });
});
let url: string;

beforeAll(async () => {
  org = await createOrg({ plan: 'enterprise' });
  env = { PROMPTMILL_API_KEY: org.key, XDG_CONFIG_HOME: '/nonexistent-promptmill-config' };
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`;
});
afterAll(() => new Promise<void>((r) => server.close(() => r())));

async function until<T>(what: string, get: () => Promise<T | undefined>, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await get();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

describe('promptmill webhooks', () => {
  it('create | list | test | deliveries | delete, and the printed secret verifies the delivery', async () => {
    const created = await cli(
      ['webhooks', 'create', '--url', url, '--event', 'prompt.executed', '-e', 'prompt.failed'],
      { env },
    );
    expect(created.stderr).toMatch(/^created whk_\S+ \(http:\/\/127\.0\.0\.1:\d+\/hook\); the secret/);
    expect(created.code).toBe(0);
    const secret = created.stdout.trim();
    expect(secret).toMatch(/^whsec_/);
    const id = /created (\S+)/.exec(created.stderr)![1]!;

    const list = await cli(['webhooks', 'list'], { env });
    expect(list.code).toBe(0);
    expect(list.stdout.split('\n')[0]).toMatch(/^ID\s+URL\s+EVENTS\s+ENABLED\s+CREATED$/);
    expect(list.stdout).toMatch(
      new RegExp(`${id}\\s+${url.replace(/\./g, '\\.')}\\s+prompt\\.executed,prompt\\.failed\\s+yes`),
    );
    const listed = JSON.parse((await cli(['webhooks', 'list', '--json'], { env })).stdout);
    expect(listed.map((e: { id: string }) => e.id)).toEqual([id]);

    const tested = await cli(['webhooks', 'test', id], { env });
    expect(tested.code).toBe(0);
    const msgId = tested.stdout.trim();
    expect(msgId).toMatch(/^msg_/);
    const delivery = await until('the test delivery', async () =>
      received.find((d) => d.headers['webhook-id'] === msgId),
    );
    await expect(
      verifyWebhook(delivery.body, delivery.headers as Record<string, string>, secret),
    ).resolves.toMatchObject({ event: 'webhook.test' });

    const table = await until('a succeeded delivery in the log', async () => {
      const r = await cli(['webhooks', 'deliveries', id], { env });
      return /succeeded/.test(r.stdout) ? r : undefined;
    });
    expect(table.stdout.split('\n')[0]).toMatch(/^ID\s+EVENT\s+STATUS\s+ATTEMPTS\s+LAST RESPONSE/);
    expect(table.stdout).toMatch(new RegExp(`${msgId}\\s+webhook\\.test\\s+succeeded\\s+1\\s+204`));
    const json = JSON.parse(
      (await cli(['webhooks', 'deliveries', id, '--limit', '5', '--json'], { env })).stdout,
    );
    expect(json[0]).toMatchObject({ id: msgId, status: 'succeeded', attemptCount: 1 });

    const deleted = await cli(['webhooks', 'delete', id], { env });
    expect(deleted).toMatchObject({ code: 0, stderr: `deleted ${id} (${url})\n` });
    await expect(sdk(org.key).webhooks.get(id)).rejects.toMatchObject({ status: 404 });
  });

  it('bad input: one line on stderr, a non-zero exit code, nothing created', async () => {
    const before = (await sdk(org.key).webhooks.list()).meta.total;
    for (const args of [
      ['webhooks', 'create', '--event', 'prompt.executed'],
      ['webhooks', 'create', '--url', url],
      ['webhooks', 'create', '--url', url, '--event', 'no.such.event'],
      ['webhooks', 'create', '--url', 'ftp://example.com/x', '--event', 'prompt.executed'],
      ['webhooks', 'deliveries', 'whk_nope', '--limit', '0'],
      ['webhooks', 'delete'],
      ['webhooks', 'delete', 'whk_does_not_exist'],
      ['webhooks', 'frobnicate'],
    ]) {
      const r = await cli(args, { env });
      expect(r.code, args.join(' ')).not.toBe(0);
      expect(r.stderr.trim().split('\n'), args.join(' ')).toHaveLength(1);
      expect(r.stderr, args.join(' ')).toMatch(/^promptmill: /);
    }
    expect((await sdk(org.key).webhooks.list()).meta.total).toBe(before);
  });
});
