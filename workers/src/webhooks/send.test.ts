import { createHmac } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { newWebhookSecret } from '@promptmill/infra/webhooks';
import { Webhook } from 'svix';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSender, RESPONSE_SNIPPET_BYTES, signWebhook } from './send.ts';

let handler: (req: IncomingMessage, res: ServerResponse) => void = (_q, r) => r.end('ok');
let hits = 0;
const server = createServer((req, res) => {
  hits++;
  req.resume();
  req.on('end', () => handler(req, res));
});
let base: string;

beforeAll(async () => {
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(() => {
  server.closeAllConnections();
  server.close();
});

const body = JSON.stringify({ id: 'evt_1', event: 'webhook.test', data: {} });

describe('signWebhook', () => {
  it('signs the Standard Webhooks way (svix verifies it) and with the seed hex HMAC of the whole whsec_ string', () => {
    const [fresh, old] = [newWebhookSecret(), newWebhookSecret()];
    const signed = signWebhook('msg_abc', body, [fresh, old], new Date());
    const headers = signed.headers;
    expect(headers['webhook-signature']!.split(' ')).toHaveLength(2);
    for (const s of [fresh, old]) expect(() => new Webhook(s).verify(body, headers)).not.toThrow();
    expect(() => new Webhook(newWebhookSecret()).verify(body, headers)).toThrow();
    expect(headers['x-promptmill-signature']).toBe(
      `sha256=${createHmac('sha256', fresh).update(body).digest('hex')}`,
    );
    expect(headers['webhook-id']).toBe('msg_abc');
  });
});

describe('createSender', () => {
  const open = createSender({ allowPrivate: true, timeoutMs: 300 });
  const strict = createSender({ allowPrivate: false, timeoutMs: 300 });
  afterAll(async () => {
    await open.close();
    await strict.close();
  });
  const req = signWebhook('msg_x', body, [newWebhookSecret()], new Date());

  it('reports a 2xx as success and keeps at most 1 KB of the answer', async () => {
    handler = (_q, res) => res.end('é'.repeat(2000));
    const r = await open.send(`${base}/ok`, req);
    expect(r).toMatchObject({ outcome: 'success', responseStatus: 200, error: null });
    expect(Buffer.byteLength(r.responseBody!)).toBeLessThanOrEqual(RESPONSE_SNIPPET_BYTES);
    expect(r.responseBody!.length).toBeGreaterThan(500);
  });

  it('does not follow a redirect', async () => {
    const before = hits;
    handler = (_q, res) => {
      res.writeHead(307, { location: `${base}/elsewhere` }).end();
    };
    const r = await open.send(`${base}/moved`, req);
    expect(r).toMatchObject({ outcome: 'http_error', responseStatus: 307 });
    expect(r.error).toMatch(/redirects are not followed/);
    expect(hits - before).toBe(1);
  });

  it('times out a receiver that does not answer, and names a refused connection', async () => {
    handler = () => {}; // never answers
    const slow = await open.send(`${base}/slow`, req);
    expect(slow.outcome).toBe('timeout');
    const dead = await open.send('http://127.0.0.1:1/none', req);
    expect(dead.outcome).toBe('connection_error');
    expect(dead.error).toMatch(/ECONNREFUSED/);
  });

  it('refuses private targets at send time without connecting', async () => {
    handler = (_q, res) => res.end('ok');
    const before = hits;
    const port = new URL(base).port;
    for (const url of [`${base}/x`, `https://localhost:${port}/x`, `https://[::ffff:127.0.0.1]:${port}/x`]) {
      const r = await strict.send(url, req);
      expect(r.outcome, url).toBe('refused');
    }
    expect(hits).toBe(before);
  });

  it('connects only to the address the guard accepted: a name that resolves anew to loopback is refused', async () => {
    const answers = [['93.184.215.14'], ['127.0.0.1']];
    const rebinding = createSender({
      allowPrivate: false,
      timeoutMs: 300,
      resolve: async () => answers.shift() ?? ['127.0.0.1'],
    });
    const before = hits;
    const r = await rebinding.send(`https://rebind.example.test:${new URL(base).port}/x`, req);
    await rebinding.close();
    expect(r.outcome).toBe('refused');
    expect(r.error).toMatch(/127\.0\.0\.1 \(loopback\)/);
    expect(hits).toBe(before);
  });
});
