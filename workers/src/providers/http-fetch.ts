/**
 * The `fetch` the provider clients use: node:http(s) with keep-alive agents instead of Node's global
 * fetch (undici), which costs ≈ 0.3 ms of CPU and 0.5 ms or more of latency per call more, measured
 * through the openai SDK against a local provider — a large share of what a run adds in direct mode.
 * It does what the SDK needs of fetch and no more: string or byte bodies, the response's status and
 * headers, its body buffered (JSON answers) or streamed (`text/event-stream`), gzip/deflate/br
 * bodies decoded, abort by signal (an AbortError, which the SDK reads as a user abort or its own
 * timeout), and a connection failure as `TypeError('fetch failed', { cause })` like undici's, so the
 * SDK's error classes — and the run's failure classes (provider-failure.ts) — are unchanged. Anything
 * else (a Request object, a streamed request body) goes to the global fetch.
 */
import http from 'node:http';
import https from 'node:https';
import { Readable } from 'node:stream';
import zlib from 'node:zlib';

export type FetchLike = (input: string | URL | Request, init?: RequestInit) => Promise<Response>;

const agents = {
  'http:': new http.Agent({ keepAlive: true, scheduling: 'lifo' }),
  'https:': new https.Agent({ keepAlive: true, scheduling: 'lifo' }),
};

function abortError(signal: AbortSignal): unknown {
  return signal.reason instanceof Error && signal.reason.name === 'AbortError'
    ? signal.reason
    : new DOMException('This operation was aborted', 'AbortError');
}

function responseHeaders(res: http.IncomingMessage): Headers {
  const headers = new Headers();
  for (const [name, value] of Object.entries(res.headers)) {
    if (value === undefined) continue;
    if (Array.isArray(value)) for (const v of value) headers.append(name, v);
    else headers.set(name, value);
  }
  return headers;
}

function decoder(
  encoding: string | undefined,
): zlib.Gunzip | zlib.Inflate | zlib.BrotliDecompress | undefined {
  if (encoding === 'gzip' || encoding === 'x-gzip') return zlib.createGunzip();
  if (encoding === 'deflate') return zlib.createInflate();
  if (encoding === 'br') return zlib.createBrotliDecompress();
  return undefined;
}

/** The body as sent, decoded when the provider compressed it (a transport error reaches the decoder). */
function decoded(res: http.IncomingMessage): Readable {
  const decode = decoder(res.headers['content-encoding']);
  if (!decode) return res;
  res.once('error', (err) => decode.destroy(err));
  return res.pipe(decode);
}

export const nodeHttpFetch: FetchLike = (input, init = {}) => {
  const body = init.body;
  const isPlainBody =
    body === undefined || body === null || typeof body === 'string' || body instanceof Uint8Array;
  if (input instanceof Request || !isPlainBody) return fetch(input, init);
  const url = input instanceof URL ? input : new URL(input);
  const agent =
    url.protocol === 'https:' ? agents['https:'] : url.protocol === 'http:' ? agents['http:'] : undefined;
  if (!agent) return fetch(input, init);
  const signal = init.signal ?? undefined;
  if (signal?.aborted) return Promise.reject(abortError(signal));

  return new Promise<Response>((resolve, reject) => {
    const headers: Record<string, string> = {};
    new Headers(init.headers).forEach((value, name) => {
      headers[name] = value;
    });
    if (body !== undefined && body !== null) headers['content-length'] = String(Buffer.byteLength(body));
    const request = (url.protocol === 'https:' ? https : http).request(url, {
      method: init.method ?? 'GET',
      headers,
      agent,
    });
    let settled = false;
    const onAbort = () => {
      const reason = abortError(signal!);
      request.destroy(reason instanceof Error ? reason : undefined);
      if (!settled) {
        settled = true;
        reject(reason);
      }
    };
    signal?.addEventListener('abort', onAbort, { once: true });
    const done = () => signal?.removeEventListener('abort', onAbort);

    request.on('error', (err) => {
      done();
      if (settled) return;
      settled = true;
      reject(new TypeError('fetch failed', { cause: err }));
    });
    request.on('response', (res) => {
      const status = res.statusCode ?? 0;
      const head = { status, statusText: res.statusMessage ?? '', headers: responseHeaders(res) };
      const source = decoded(res);
      const isNullBody = status === 204 || status === 205 || status === 304 || init.method === 'HEAD';
      if (isNullBody) {
        res.resume();
        done();
        settled = true;
        resolve(new Response(null, head));
        return;
      }
      if ((res.headers['content-type'] ?? '').startsWith('text/event-stream')) {
        // streamed: the abort listener stays until the body ends (an abort then errors the stream)
        res.once('close', done);
        settled = true;
        resolve(new Response(Readable.toWeb(source) as ReadableStream<Uint8Array>, head));
        return;
      }
      const chunks: Buffer[] = [];
      source.on('data', (chunk: Buffer) => chunks.push(chunk));
      source.once('end', () => {
        done();
        if (settled) return;
        settled = true;
        resolve(new Response(Buffer.concat(chunks), head));
      });
      source.once('error', (err) => {
        done();
        if (settled) return;
        settled = true;
        reject(new TypeError('fetch failed', { cause: err }));
      });
    });
    request.end(body ?? undefined);
  });
};
