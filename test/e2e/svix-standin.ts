// A stand-in for the Svix API, for the Svix-mode test: the routes the svix client calls (status codes
// and camelCase bodies as Svix documents them), with in-memory apps, endpoints, messages and attempts.
// It delivers messages itself, signed with each endpoint's secret (svix Webhook.sign), so a receiver
// can check that Promptmill mirrored the endpoint's whsec_ secret.
import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Webhook } from 'svix';

interface App {
  id: string;
  uid: string;
  name: string;
  createdAt: string;
}
interface Endpoint {
  id: string;
  uid: string;
  url: string;
  description: string;
  channels: string[];
  disabled: boolean;
  secret: string;
  createdAt: string;
  updatedAt: string;
}
interface Message {
  id: string;
  eventId: string | null;
  eventType: string;
  payload: unknown;
  channels: string[] | null;
  timestamp: string;
}
interface Attempt {
  id: string;
  msgId: string;
  endpointId: string;
  url: string;
  response: string;
  responseStatusCode: number;
  responseDurationMs: number;
  status: number;
  statusText: string;
  triggerType: number;
  timestamp: string;
}

export interface SvixStandin {
  url: string;
  calls: { method: string; path: string }[];
  apps: Map<string, App>;
  endpoints: Map<string, Endpoint[]>;
  messages: Map<string, Message[]>;
  attempts: Attempt[];
  close(): Promise<void>;
}

const id = (prefix: string) => `${prefix}_${randomBytes(12).toString('base64url')}`;
const now = () => new Date().toISOString();

export async function startSvixStandin(token: string): Promise<SvixStandin> {
  const s: SvixStandin = {
    url: '',
    calls: [],
    apps: new Map(),
    endpoints: new Map(),
    messages: new Map(),
    attempts: [],
    close: async () => {},
  };
  const appOf = (ref: string) => [...s.apps.values()].find((a) => a.id === ref || a.uid === ref);
  const endpointOf = (app: App, ref: string) =>
    (s.endpoints.get(app.id) ?? []).find((e) => e.id === ref || e.uid === ref);
  const appOut = (a: App) => ({
    id: a.id,
    uid: a.uid,
    name: a.name,
    metadata: {},
    createdAt: a.createdAt,
    updatedAt: a.createdAt,
  });
  const endpointOut = (e: Endpoint) => ({
    id: e.id,
    uid: e.uid,
    url: e.url,
    description: e.description,
    channels: e.channels,
    disabled: e.disabled,
    metadata: {},
    version: 1,
    createdAt: e.createdAt,
    updatedAt: e.updatedAt,
  });
  const messageOut = (m: Message) => ({ ...m, tags: null });

  async function deliver(app: App, m: Message, e: Endpoint, triggerType: number) {
    const body = JSON.stringify(m.payload);
    const at = new Date();
    const started = performance.now();
    let status = 0;
    let text = '';
    try {
      const res = await fetch(e.url, {
        method: 'POST',
        redirect: 'manual',
        headers: {
          'content-type': 'application/json',
          'webhook-id': m.id,
          'webhook-timestamp': String(Math.floor(at.getTime() / 1000)),
          'webhook-signature': new Webhook(e.secret).sign(m.id, at, body),
        },
        body,
      });
      status = res.status;
      text = await res.text();
    } catch (err) {
      text = String(err);
    }
    s.attempts.push({
      id: id('atmpt'),
      msgId: m.id,
      endpointId: e.id,
      url: e.url,
      response: text,
      responseStatusCode: status,
      responseDurationMs: Math.round(performance.now() - started),
      status: status >= 200 && status < 300 ? 0 : 2,
      statusText: status >= 200 && status < 300 ? 'success' : 'fail',
      triggerType,
      timestamp: at.toISOString(),
    });
    void app;
  }

  const handle = async (req: IncomingMessage, res: ServerResponse, raw: string) => {
    const url = new URL(req.url ?? '/', 'http://standin');
    const path = url.pathname;
    s.calls.push({ method: req.method ?? '', path });
    const send = (status: number, body?: unknown) => {
      res.writeHead(status, body === undefined ? {} : { 'content-type': 'application/json' });
      res.end(body === undefined ? undefined : JSON.stringify(body));
    };
    if (req.headers.authorization !== `Bearer ${token}`)
      return send(401, { code: 'authentication_failed', detail: 'Invalid token' });
    const body = raw ? (JSON.parse(raw) as Record<string, unknown>) : {};
    const notFound = () => send(404, { code: 'not_found', detail: 'Entity not found' });

    if (req.method === 'POST' && path === '/api/v1/app') {
      const existing = body.uid ? appOf(String(body.uid)) : undefined;
      if (existing)
        return url.searchParams.get('get_if_exists') === 'true'
          ? send(200, appOut(existing))
          : send(409, { code: 'conflict', detail: 'An application with this uid already exists' });
      const app: App = {
        id: id('app'),
        uid: String(body.uid ?? ''),
        name: String(body.name),
        createdAt: now(),
      };
      s.apps.set(app.id, app);
      return send(201, appOut(app));
    }
    const m = /^\/api\/v1\/app\/([^/]+)\/(.*)$/.exec(path);
    if (m) {
      const app = appOf(decodeURIComponent(m[1]!));
      if (!app) return notFound();
      const rest = m[2]!;
      const at = (method: string, re: RegExp) => (req.method === method ? re.exec(rest) : null);
      let r: RegExpExecArray | null;
      r = at('PUT', /^endpoint\/([^/]+)$/);
      if (r) {
        const ref = decodeURIComponent(r[1]!);
        const list = s.endpoints.get(app.id) ?? [];
        let e = endpointOf(app, ref);
        const isNew = !e;
        e ??= {
          id: id('ep'),
          uid: ref,
          url: '',
          description: '',
          channels: [],
          disabled: false,
          secret: `whsec_${randomBytes(24).toString('base64')}`,
          createdAt: now(),
          updatedAt: now(),
        };
        Object.assign(e, {
          url: String(body.url),
          description: String(body.description ?? ''),
          channels: (body.channels as string[]) ?? [],
          disabled: Boolean(body.disabled),
          updatedAt: now(),
        });
        if (isNew) s.endpoints.set(app.id, [...list, e]);
        return send(isNew ? 201 : 200, endpointOut(e));
      }
      r = at('GET', /^endpoint\/([^/]+)\/secret$/);
      if (r) {
        const e = endpointOf(app, decodeURIComponent(r[1]!));
        return e ? send(200, { key: e.secret }) : notFound();
      }
      r = at('POST', /^endpoint\/([^/]+)\/secret\/rotate$/);
      if (r) {
        const e = endpointOf(app, decodeURIComponent(r[1]!));
        if (!e) return notFound();
        e.secret = typeof body.key === 'string' ? body.key : `whsec_${randomBytes(24).toString('base64')}`;
        return send(204);
      }
      if (req.method === 'POST' && rest === 'msg') {
        const msgs = s.messages.get(app.id) ?? [];
        if (body.eventId && msgs.some((x) => x.eventId === body.eventId))
          return send(409, { code: 'conflict', detail: 'A message with this eventId already exists' });
        const msg: Message = {
          id: id('msg'),
          eventId: (body.eventId as string) ?? null,
          eventType: String(body.eventType),
          payload: body.payload,
          channels: (body.channels as string[]) ?? null,
          timestamp: now(),
        };
        s.messages.set(app.id, [...msgs, msg]);
        const targets = (s.endpoints.get(app.id) ?? []).filter(
          (e) => !e.disabled && (!msg.channels || e.channels.some((c) => msg.channels!.includes(c))),
        );
        setTimeout(() => void Promise.all(targets.map((e) => deliver(app, msg, e, 0))), 10);
        return send(202, messageOut(msg));
      }
      r = at('GET', /^msg\/([^/]+)$/);
      if (r) {
        const ref = decodeURIComponent(r[1]!);
        const msg = (s.messages.get(app.id) ?? []).find((x) => x.id === ref || x.eventId === ref);
        return msg ? send(200, messageOut(msg)) : notFound();
      }
      r = at('GET', /^attempt\/msg\/([^/]+)$/);
      if (r) {
        const msgId = decodeURIComponent(r[1]!);
        const data = s.attempts.filter((a) => a.msgId === msgId).reverse();
        return send(200, { data, iterator: null, prevIterator: null, done: true });
      }
      r = at('POST', /^msg\/([^/]+)\/endpoint\/([^/]+)\/resend$/);
      if (r) {
        const msg = (s.messages.get(app.id) ?? []).find((x) => x.id === decodeURIComponent(r![1]!));
        const e = endpointOf(app, decodeURIComponent(r[2]!));
        if (!msg || !e) return notFound();
        setTimeout(() => void deliver(app, msg, e, 1), 10);
        return send(202, {});
      }
    }
    return notFound();
  };

  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      handle(req, res, Buffer.concat(chunks).toString()).catch(() => {
        res.writeHead(500).end();
      });
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  s.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  s.close = () =>
    new Promise((r) => {
      server.closeAllConnections();
      server.close(() => r());
    });
  return s;
}
