/**
 * Verifying webhook deliveries with WebCrypto (Node 20+, browsers, edge runtimes). Promptmill signs
 * each delivery twice (API.md, Webhooks):
 *  - Standard Webhooks: `webhook-id`, `webhook-timestamp`, `webhook-signature: v1,<base64 HMAC-SHA256
 *    of "id.timestamp.body">` keyed with the base64 part of `whsec_…` (Svix's `svix-*` names too);
 *  - `X-Promptmill-Signature: sha256=<hex HMAC-SHA256 of the raw body>` keyed with the whole
 *    `whsec_…` string (the seed 002 scheme).
 * When the Standard Webhooks headers are there they must verify (they also bind the timestamp, so a
 * replayed delivery is refused); otherwise the `sha256=` signature must.
 */
import { WebhookVerificationError } from './errors.ts';
import type { WebhookEvent } from './types.ts';

export type WebhookHeaders =
  | Headers
  | Record<string, string | string[] | undefined>
  | Iterable<[string, string]>;

export interface VerifyWebhookOptions {
  /** Largest accepted distance of `webhook-timestamp` from now, in seconds. Default 300 (as Svix). */
  toleranceSeconds?: number;
  /** The current time (tests). */
  now?: Date;
}

const encoder = new TextEncoder();

function headerGetter(headers: WebhookHeaders): (name: string) => string | undefined {
  if (headers instanceof Headers) return (name) => headers.get(name) ?? undefined;
  const map = new Map<string, string>();
  const entries: Iterable<[string, string | string[] | undefined]> =
    Symbol.iterator in headers
      ? (headers as Iterable<[string, string]>)
      : Object.entries(headers as Record<string, string | string[] | undefined>);
  for (const [k, v] of entries) {
    if (v !== undefined) map.set(k.toLowerCase(), Array.isArray(v) ? v.join(' ') : v);
  }
  return (name) => map.get(name);
}

function base64ToBytes(b64: string): Uint8Array<ArrayBuffer> | undefined {
  try {
    const bin = atob(b64);
    const out = new Uint8Array(bin.length);
    for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
    return out;
  } catch {
    return undefined;
  }
}

function hexToBytes(hex: string): Uint8Array<ArrayBuffer> | undefined {
  if (!/^(?:[0-9a-fA-F]{2})+$/.test(hex)) return undefined;
  const out = new Uint8Array(hex.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = Number.parseInt(hex.slice(i * 2, i * 2 + 2), 16);
  return out;
}

function hmacKey(raw: Uint8Array<ArrayBuffer>) {
  return crypto.subtle.importKey('raw', raw, { name: 'HMAC', hash: 'SHA-256' }, false, ['verify']);
}

function toBytes(body: string | Uint8Array | ArrayBuffer): Uint8Array<ArrayBuffer> {
  if (typeof body === 'string') return encoder.encode(body);
  if (body instanceof ArrayBuffer) return new Uint8Array(body);
  return new Uint8Array(body);
}

function concat(...parts: Uint8Array[]): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

async function verifyStandard(
  raw: Uint8Array<ArrayBuffer>,
  get: (name: string) => string | undefined,
  secret: string,
  opts: VerifyWebhookOptions,
): Promise<void> {
  const id = get('webhook-id') ?? get('svix-id');
  const timestamp = get('webhook-timestamp') ?? get('svix-timestamp');
  const signatures = get('webhook-signature') ?? get('svix-signature') ?? '';
  if (!id || !timestamp) throw new WebhookVerificationError('Missing webhook-id or webhook-timestamp header');
  const ts = Number(timestamp);
  if (!/^\d+$/.test(timestamp) || !Number.isSafeInteger(ts)) {
    throw new WebhookVerificationError('Invalid webhook-timestamp header');
  }
  const now = Math.floor((opts.now ?? new Date()).getTime() / 1000);
  const tolerance = opts.toleranceSeconds ?? 300;
  if (Math.abs(now - ts) > tolerance) {
    throw new WebhookVerificationError(`Webhook timestamp is more than ${tolerance} s from now`);
  }
  const keyBytes = base64ToBytes(secret.startsWith('whsec_') ? secret.slice('whsec_'.length) : secret);
  if (!keyBytes) throw new WebhookVerificationError('The secret is not a whsec_<base64> secret');
  const key = await hmacKey(keyBytes);
  const signed = concat(encoder.encode(`${id}.${timestamp}.`), raw);
  for (const entry of signatures.split(' ')) {
    const [version, sig] = entry.split(',', 2);
    if (version !== 'v1' || !sig) continue;
    const bytes = base64ToBytes(sig);
    if (bytes && (await crypto.subtle.verify('HMAC', key, bytes, signed))) return;
  }
  throw new WebhookVerificationError('No matching webhook-signature');
}

async function verifyPromptmill(raw: Uint8Array<ArrayBuffer>, header: string, secret: string): Promise<void> {
  const match = /^sha256=([0-9a-fA-F]+)$/.exec(header.trim());
  const bytes = match ? hexToBytes(match[1]!) : undefined;
  if (!bytes) throw new WebhookVerificationError('Malformed X-Promptmill-Signature header');
  const key = await hmacKey(encoder.encode(secret));
  if (!(await crypto.subtle.verify('HMAC', key, bytes, raw))) {
    throw new WebhookVerificationError('X-Promptmill-Signature does not match');
  }
}

/**
 * Checks a delivery's signature against the endpoint's `whsec_…` secret and returns its parsed
 * payload; throws WebhookVerificationError otherwise. Pass the body exactly as received (the raw
 * bytes or text, not re-serialised JSON).
 */
export async function verifyWebhook<D = Record<string, unknown>>(
  body: string | Uint8Array | ArrayBuffer,
  headers: WebhookHeaders,
  secret: string,
  options: VerifyWebhookOptions = {},
): Promise<WebhookEvent<D>> {
  if (!secret) throw new WebhookVerificationError('No webhook secret given');
  const raw = toBytes(body);
  const get = headerGetter(headers);
  const hasStandard = Boolean(get('webhook-signature') ?? get('svix-signature'));
  const legacy = get('x-promptmill-signature');
  if (hasStandard) await verifyStandard(raw, get, secret, options);
  else if (legacy) await verifyPromptmill(raw, legacy, secret);
  else throw new WebhookVerificationError('No webhook-signature or X-Promptmill-Signature header');
  try {
    return JSON.parse(new TextDecoder().decode(raw)) as WebhookEvent<D>;
  } catch {
    throw new WebhookVerificationError('The signed body is not JSON');
  }
}
