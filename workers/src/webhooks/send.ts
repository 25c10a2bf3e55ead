import { createHmac } from 'node:crypto';
import type { LookupFunction } from 'node:net';
import { checkWebhookUrl } from '@promptmill/infra/webhooks';
import { Webhook } from 'svix';
import { Agent, errors, request } from 'undici';

// One HTTP attempt of a webhook: signed (Standard Webhooks via svix, plus the seed's hex HMAC),
// guarded against private targets at send time (the connection itself only goes to an address the
// guard accepted, so a DNS answer that changes after the check cannot turn it around), 15 s
// timeout, redirects not followed, at most 1 KB of the answer kept.

export const RESPONSE_SNIPPET_BYTES = 1024;

export interface SignedRequest {
  body: string;
  headers: Record<string, string>;
}

/**
 * Signs a body for a message. `secrets` newest first: each signs `webhook-signature` (space-separated,
 * as Standard Webhooks allows during a rotation); `X-Promptmill-Signature` uses the newest only.
 */
export function signWebhook(
  messageId: string,
  body: string,
  secrets: readonly string[],
  at: Date,
): SignedRequest {
  const signatures = secrets.map((s) => new Webhook(s).sign(messageId, at, body));
  const hex = createHmac('sha256', secrets[0]!).update(body).digest('hex');
  return {
    body,
    headers: {
      'content-type': 'application/json',
      'user-agent': 'Promptmill-Webhooks/1.0',
      'webhook-id': messageId,
      'webhook-timestamp': String(Math.floor(at.getTime() / 1000)),
      'webhook-signature': signatures.join(' '),
      'x-promptmill-signature': `sha256=${hex}`,
    },
  };
}

export type AttemptOutcome = 'success' | 'http_error' | 'timeout' | 'connection_error' | 'refused';

export interface HttpAttempt {
  outcome: AttemptOutcome;
  responseStatus: number | null;
  responseBody: string | null;
  error: string | null;
  latencyMs: number;
}

export interface Sender {
  send(url: string, req: SignedRequest): Promise<HttpAttempt>;
  close(): Promise<void>;
}

class RefusedAddress extends Error {}

/** The HTTP side of deliveries, for one worker: one connection pool whose every lookup is guarded. */
export function createSender(opts: {
  allowPrivate: boolean;
  timeoutMs: number;
  /** host name resolution (tests); the system resolver by default */
  resolve?: ((host: string) => Promise<string[]>) | undefined;
}): Sender {
  const guardedLookup: LookupFunction = (hostname, options, callback) => {
    checkWebhookUrl(`https://${hostname.includes(':') ? `[${hostname}]` : hostname}/`, opts).then(
      (verdict) => {
        const address = verdict.addresses[0];
        if (!verdict.ok || !address) {
          callback(new RefusedAddress(verdict.reason ?? 'refused'), '', 4);
          return;
        }
        const family = address.includes(':') ? 6 : 4;
        if (options.all) (callback as never as (e: null, a: unknown[]) => void)(null, [{ address, family }]);
        else callback(null, address, family);
      },
      (err: Error) => callback(err as NodeJS.ErrnoException, '', 4),
    );
  };
  const agent = new Agent({
    connect: opts.allowPrivate
      ? { timeout: opts.timeoutMs }
      : { lookup: guardedLookup, timeout: opts.timeoutMs },
  });

  return {
    async send(url, req) {
      const started = performance.now();
      const elapsed = () => Math.round(performance.now() - started);
      const verdict = await checkWebhookUrl(url, opts);
      if (!verdict.ok)
        return {
          outcome: 'refused',
          responseStatus: null,
          responseBody: null,
          error: `URL ${verdict.reason}`,
          latencyMs: 0,
        };
      try {
        const res = await request(url, {
          method: 'POST',
          body: req.body,
          headers: req.headers,
          dispatcher: agent,
          signal: AbortSignal.timeout(opts.timeoutMs),
          headersTimeout: opts.timeoutMs,
          bodyTimeout: opts.timeoutMs,
        });
        const snippet = await readSnippet(res.body);
        const ok = res.statusCode >= 200 && res.statusCode < 300;
        const redirect = res.statusCode >= 300 && res.statusCode < 400;
        return {
          outcome: ok ? 'success' : 'http_error',
          responseStatus: res.statusCode,
          responseBody: snippet,
          error: ok
            ? null
            : redirect
              ? `HTTP ${res.statusCode}: redirects are not followed`
              : `HTTP ${res.statusCode}`,
          latencyMs: elapsed(),
        };
      } catch (err) {
        return {
          ...describeFailure(err, opts.timeoutMs),
          responseStatus: null,
          responseBody: null,
          latencyMs: elapsed(),
        };
      }
    },
    close: () => agent.close(),
  };
}

function describeFailure(err: unknown, timeoutMs: number): { outcome: AttemptOutcome; error: string } {
  const cause = err instanceof Error && err.cause instanceof Error ? err.cause : undefined;
  if (err instanceof RefusedAddress || cause instanceof RefusedAddress)
    return { outcome: 'refused', error: `URL ${(cause ?? (err as Error)).message}` };
  const name = err instanceof Error ? err.name : '';
  if (
    name === 'TimeoutError' ||
    name === 'AbortError' ||
    err instanceof errors.HeadersTimeoutError ||
    err instanceof errors.BodyTimeoutError ||
    err instanceof errors.ConnectTimeoutError
  )
    return { outcome: 'timeout', error: `no answer within ${timeoutMs / 1000} s` };
  const code = (err as { code?: string }).code ?? (cause as { code?: string } | undefined)?.code;
  return { outcome: 'connection_error', error: `connection failed${code ? ` (${code})` : ''}` };
}

async function readSnippet(body: AsyncIterable<Buffer> & { destroy(): void }): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of body) {
    chunks.push(chunk);
    size += chunk.length;
    if (size >= RESPONSE_SNIPPET_BYTES) break;
  }
  if (size >= RESPONSE_SNIPPET_BYTES) body.destroy();
  // cut at a character boundary, without NUL (a text column cannot hold it)
  return Buffer.concat(chunks)
    .subarray(0, RESPONSE_SNIPPET_BYTES)
    .toString('utf8')
    .replace(/\uFFFD$/, '')
    .replaceAll('\u0000', '\uFFFD');
}
