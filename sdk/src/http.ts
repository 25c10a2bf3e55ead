/**
 * The transport: one `request()` for every call, with retries (exponential backoff with jitter on
 * 429, 5xx and network errors, honouring Retry-After and X-RateLimit-Reset), per-attempt timeouts,
 * the caller's AbortSignal, and a fallback list of keys (a revoked, expired or rate-limited key hands
 * over to the next one). Only what Node 20+ and browsers both have: fetch, AbortSignal, Headers.
 */
import {
  APIConnectionError,
  type APIError,
  APITimeoutError,
  APIUserAbortError,
  errorFromResponse,
  PromptmillError,
} from './errors.ts';
import { expandPath, ROUTES, type RouteName } from './routes.ts';

export type FetchLike = (input: string, init: RequestInit) => Promise<Response>;

export interface ClientOptions {
  /** One key, or a fallback list tried in order. Default: `PROMPTMILL_API_KEY` where `process.env` exists. */
  apiKey?: string | readonly string[];
  /** Default: `PROMPTMILL_BASE_URL`, else http://127.0.0.1:3000 */
  baseUrl?: string;
  /** Retries after the first attempt (429, 5xx, network errors, timeouts). Default 2. */
  maxRetries?: number;
  /** Per attempt, in ms. Default 60,000. */
  timeoutMs?: number;
  /** First backoff delay in ms; doubles per retry, with jitter. Default 500. */
  initialRetryDelayMs?: number;
  /** Longest backoff; a Retry-After longer than this is not waited for (the error is thrown). Default 60,000. */
  maxRetryDelayMs?: number;
  /** A fetch implementation (tests, proxies). Default: the global fetch. */
  fetch?: FetchLike;
  /** Headers sent with every request. */
  defaultHeaders?: Record<string, string>;
}

export interface RequestOptions {
  signal?: AbortSignal;
  timeoutMs?: number;
  maxRetries?: number;
  headers?: Record<string, string>;
}

export interface CallSpec extends RequestOptions {
  params?: Record<string, string | number>;
  query?: Record<string, string | number | boolean | readonly string[] | undefined>;
  body?: unknown;
  /** Sent on every attempt of this call (async starts: one key reused across retries). */
  idempotencyKey?: string;
}

export interface RawResponse {
  response: Response;
  requestId: string | undefined;
  /** the parsed body (JSON, else text); undefined for streams */
  body: unknown;
}

const RETRYABLE_STATUS = new Set([408, 429, 500, 502, 503, 504]);
/** 401 messages after which the next key in the fallback list is tried. */
const DEAD_KEY = /revoked|expired|Invalid API key|owner is suspended/;

interface KeySlot {
  key: string;
  dead: boolean;
  /** ms epoch until which the key is known to be rate limited */
  limitedUntil: number;
}

function envVar(name: string): string | undefined {
  const proc = (globalThis as { process?: { env?: Record<string, string | undefined> } }).process;
  return proc?.env?.[name];
}

export function retryDelayFromHeaders(headers: Headers, now = Date.now()): number | undefined {
  const retryAfter = headers.get('retry-after');
  if (retryAfter !== null) {
    const seconds = Number(retryAfter);
    if (Number.isFinite(seconds)) return Math.max(0, seconds * 1000);
    const date = Date.parse(retryAfter);
    if (!Number.isNaN(date)) return Math.max(0, date - now);
  }
  const reset = headers.get('x-ratelimit-reset');
  if (reset !== null && headers.get('x-ratelimit-remaining') === '0') {
    const at = Number(reset);
    if (Number.isFinite(at)) return Math.max(0, at * 1000 - now);
  }
  return undefined;
}

/** Full-jitter exponential backoff: a random delay in [½·d, d] with d = initial·2^retry, capped. */
export function backoffDelay(retry: number, initialMs: number, maxMs: number, random = Math.random): number {
  const d = Math.min(maxMs, initialMs * 2 ** retry);
  return d / 2 + (random() * d) / 2;
}

function sleep(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(new APIUserAbortError('Request aborted'));
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      reject(new APIUserAbortError('Request aborted'));
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

async function readBody(res: Response): Promise<unknown> {
  const text = await res.text();
  if (!text) return undefined;
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

export class Transport {
  readonly baseUrl: string;
  readonly #keys: KeySlot[];
  readonly #fetch: FetchLike;
  readonly #opts: Required<
    Pick<ClientOptions, 'maxRetries' | 'timeoutMs' | 'initialRetryDelayMs' | 'maxRetryDelayMs'>
  >;
  readonly #headers: Record<string, string>;

  constructor(options: ClientOptions = {}) {
    const keys = options.apiKey ?? envVar('PROMPTMILL_API_KEY');
    const list = typeof keys === 'string' ? [keys] : [...(keys ?? [])];
    if (list.length === 0 || list.some((k) => !k)) {
      throw new PromptmillError('No API key: pass apiKey or set PROMPTMILL_API_KEY');
    }
    this.#keys = list.map((key) => ({ key, dead: false, limitedUntil: 0 }));
    this.baseUrl = (options.baseUrl ?? envVar('PROMPTMILL_BASE_URL') ?? 'http://127.0.0.1:3000').replace(
      /\/+$/,
      '',
    );
    const f = options.fetch ?? (globalThis.fetch as FetchLike | undefined);
    if (!f) throw new PromptmillError('No fetch: pass options.fetch (Node 20+ and browsers have one)');
    this.#fetch = options.fetch ?? ((input, init) => globalThis.fetch(input, init));
    this.#opts = {
      maxRetries: options.maxRetries ?? 2,
      timeoutMs: options.timeoutMs ?? 60_000,
      initialRetryDelayMs: options.initialRetryDelayMs ?? 500,
      maxRetryDelayMs: options.maxRetryDelayMs ?? 60_000,
    };
    this.#headers = { ...options.defaultHeaders };
  }

  /** The key the next request uses: the first one neither dead nor known to be rate limited. */
  #pickKey(now: number): KeySlot {
    const alive = this.#keys.filter((k) => !k.dead);
    if (alive.length === 0) return this.#keys[this.#keys.length - 1]!;
    return (
      alive.find((k) => k.limitedUntil <= now) ??
      alive.reduce((a, b) => (b.limitedUntil < a.limitedUntil ? b : a))
    );
  }

  #url(route: RouteName, spec: CallSpec): string {
    const url = `${this.baseUrl}${expandPath(ROUTES[route].path, spec.params)}`;
    const search = new URLSearchParams();
    for (const [name, value] of Object.entries(spec.query ?? {})) {
      if (value === undefined) continue;
      if (Array.isArray(value)) for (const v of value) search.append(name, String(v));
      else search.append(name, String(value));
    }
    const qs = search.toString();
    return qs ? `${url}?${qs}` : url;
  }

  /**
   * Sends a call with retries and resolves with the successful answer, its body read (JSON parsed), or
   * throws a typed error. With `stream`, resolves as soon as the headers are in, body unread; the
   * timeout then covers only the wait for the headers, and `stream` aborts the body.
   */
  async send(route: RouteName, spec: CallSpec = {}, stream?: AbortController): Promise<RawResponse> {
    const { method } = ROUTES[route];
    const url = this.#url(route, spec);
    const maxRetries = spec.maxRetries ?? this.#opts.maxRetries;
    const timeoutMs = spec.timeoutMs ?? this.#opts.timeoutMs;
    const body = spec.body === undefined ? undefined : JSON.stringify(spec.body);
    for (let attempt = 0; ; attempt++) {
      const slot = this.#pickKey(Date.now());
      const headers: Record<string, string> = {
        accept: stream ? 'text/event-stream' : 'application/json',
        ...this.#headers,
        ...spec.headers,
        authorization: `Bearer ${slot.key}`,
      };
      if (body !== undefined) headers['content-type'] = 'application/json';
      if (spec.idempotencyKey) headers['idempotency-key'] = spec.idempotencyKey;
      const timeout = new AbortController();
      const timer = setTimeout(() => timeout.abort(new Error(`timeout after ${timeoutMs} ms`)), timeoutMs);
      const signals = [
        timeout.signal,
        ...(spec.signal ? [spec.signal] : []),
        ...(stream ? [stream.signal] : []),
      ];
      const signal = signals.length === 1 ? timeout.signal : AbortSignal.any(signals);
      const canRetry = attempt < maxRetries;
      let res: Response;
      let parsed: unknown;
      try {
        res = await this.#fetch(url, { method, headers, ...(body === undefined ? {} : { body }), signal });
        if (!stream || !res.ok) parsed = await readBody(res);
      } catch (err) {
        if (spec.signal?.aborted || stream?.signal.aborted) {
          throw new APIUserAbortError('Request aborted', { cause: err });
        }
        const failure = timeout.signal.aborted
          ? new APITimeoutError(`${method} ${url}: no answer within ${timeoutMs} ms`, { cause: err })
          : new APIConnectionError(`${method} ${url}: ${(err as Error)?.message ?? 'connection failed'}`, {
              cause: err,
            });
        if (!canRetry) throw failure;
        await sleep(this.#backoff(attempt), spec.signal);
        continue;
      } finally {
        clearTimeout(timer);
      }
      if (res.ok)
        return { response: res, requestId: res.headers.get('x-request-id') ?? undefined, body: parsed };

      const hint = retryDelayFromHeaders(res.headers);
      const error = errorFromResponse(
        res.status,
        res.headers,
        parsed,
        hint === undefined ? undefined : Math.ceil(hint / 1000),
      );
      // a key that can no longer work hands over at once to the next one (no delay, counts as a retry)
      if (res.status === 401 && DEAD_KEY.test(errorMessage(error)) && this.#alive() > 1) {
        slot.dead = true;
        if (canRetry) continue;
        throw error;
      }
      if (res.status === 429) {
        slot.limitedUntil = Date.now() + (hint ?? 1000);
        const other = this.#pickKey(Date.now());
        if (other !== slot && other.limitedUntil <= Date.now() && canRetry) continue;
      }
      if (!canRetry || !isRetryable(error)) throw error;
      const delay = hint ?? this.#backoff(attempt);
      if (delay > this.#opts.maxRetryDelayMs) throw error;
      await sleep(delay, spec.signal);
    }
  }

  #alive(): number {
    return this.#keys.filter((k) => !k.dead).length;
  }

  #backoff(attempt: number): number {
    return backoffDelay(attempt, this.#opts.initialRetryDelayMs, this.#opts.maxRetryDelayMs);
  }

  /** `send`, then the JSON body. */
  async json<T>(route: RouteName, spec: CallSpec = {}): Promise<{ body: T; response: Response }> {
    const { response, body } = await this.send(route, spec);
    return { body: body as T, response };
  }
}

function errorMessage(error: APIError): string {
  return error.message.slice(error.code.length + 2);
}

function isRetryable(error: APIError): boolean {
  if (!RETRYABLE_STATUS.has(error.status)) return false;
  // the run goes on after a sync wait runs out: retrying would start a second one
  return error.code !== 'RUN_TIMEOUT';
}
