// A real local webhook receiver for the e2e tests: records every request (raw body, headers, when),
// answers with the status its `respond` function picks, and verifies both signatures.
import { createHmac } from 'node:crypto';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Webhook } from 'svix';
import { afterAll } from 'vitest';
import { call } from './helpers.ts';

export interface Received {
  body: string;
  json: { id: string; event: string; created_at: string; api_version: string; data: Record<string, unknown> };
  headers: IncomingHttpHeaders;
  path: string;
  at: number;
}

export interface Receiver {
  url: string;
  received: Received[];
  /** the status for the n-th request (0-based); 200 by default */
  respond: (n: number, req: Received) => number;
  /** resolves once `count` requests matching `filter` arrived; fails after `timeoutMs` */
  waitFor(filter: (r: Received) => boolean, count?: number, timeoutMs?: number): Promise<Received[]>;
  close(): Promise<void>;
}

const open = new Set<Receiver>();
// every receiver a test file started is closed after the file
afterAll(() => Promise.all([...open].map((r) => r.close())));

export async function startReceiver(respond: Receiver['respond'] = () => 200): Promise<Receiver> {
  const received: Received[] = [];
  const receiver = { received, respond } as Receiver;
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      let json: Received['json'];
      try {
        json = JSON.parse(body);
      } catch {
        json = { id: '', event: '', created_at: '', api_version: '', data: {} };
      }
      const r: Received = { body, json, headers: req.headers, path: req.url ?? '/', at: Date.now() };
      const n = received.length;
      received.push(r);
      res.statusCode = receiver.respond(n, r);
      res.end(res.statusCode < 300 ? 'ok' : 'nope');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  receiver.url = `http://127.0.0.1:${port}/hooks`;
  receiver.waitFor = async (filter, count = 1, timeoutMs = 20_000) => {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const hits = received.filter(filter);
      if (hits.length >= count) return hits;
      if (Date.now() > deadline)
        throw new Error(`receiver: ${hits.length}/${count} matching requests after ${timeoutMs} ms`);
      await new Promise((r) => setTimeout(r, 25));
    }
  };
  receiver.close = () =>
    new Promise<void>((resolve) => {
      open.delete(receiver);
      server.closeAllConnections();
      server.close(() => resolve());
    });
  open.add(receiver);
  return receiver;
}

/** Throws unless svix's Webhook.verify accepts the request with this secret. */
export function verifySvix(r: Received, secret: string): void {
  new Webhook(secret).verify(r.body, {
    'webhook-id': String(r.headers['webhook-id']),
    'webhook-timestamp': String(r.headers['webhook-timestamp']),
    'webhook-signature': String(r.headers['webhook-signature']),
  });
}

/** The seed's scheme: hex HMAC-SHA256 of the raw body keyed with the whole whsec_ string. */
export function isHexSignatureValid(r: Received, secret: string): boolean {
  const expected = `sha256=${createHmac('sha256', secret).update(r.body).digest('hex')}`;
  return r.headers['x-promptmill-signature'] === expected;
}

export interface Endpoint {
  id: string;
  secret: string;
}

export async function createEndpoint(key: string, body: Record<string, unknown>): Promise<Endpoint> {
  const res = await call<{ data: { id: string; secret: string } }>('POST', '/v1/webhooks', { key, body });
  if (res.status !== 201) throw new Error(`createEndpoint: ${res.status} ${res.text}`);
  return { id: res.body.data.id, secret: res.body.data.secret };
}

export interface Delivery {
  id: string;
  status: string;
  event: string;
  eventId: string;
  attemptCount: number;
  nextAttemptAt: string | null;
  attempts: {
    attempt: number;
    status: string;
    responseStatus: number | null;
    error: string | null;
    latencyMs: number;
  }[];
}

/** Polls an endpoint's delivery log until `until` holds. */
export async function pollDeliveries(
  key: string,
  endpointId: string,
  until: (d: Delivery[]) => boolean,
  timeoutMs = 20_000,
): Promise<Delivery[]> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const res = await call<{ data: Delivery[] }>(
      'GET',
      `/v1/webhooks/${endpointId}/deliveries?per_page=100`,
      { key },
    );
    if (res.status !== 200) throw new Error(`deliveries: ${res.status} ${res.text}`);
    if (until(res.body.data)) return res.body.data;
    if (Date.now() > deadline) throw new Error(`deliveries never matched: ${res.text.slice(0, 800)}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
