/**
 * OpenAI-compatible mock model provider (plain node:http).
 *
 * One file on purpose (~550 lines): the server is one closure whose handlers share its state (the
 * rule book, the call log, open streams); splitting it would mean passing that state around.
 * Rules live in behaviors.ts, token counting in tokens.ts.
 *
 * Model endpoints (also served without the `/v1` prefix):
 *   POST /v1/chat/completions   echo model, streaming and non-streaming
 *   GET  /v1/models             mock-1, mock-fast, gpt-4o-mini
 *   GET  /v1/models/:id
 *
 * Control endpoints (same server, for tests in other processes):
 *   POST   /__mock/rules        body = MockRule            → {id}
 *   GET    /__mock/rules                                   → {rules: RuleInfo[]}
 *   DELETE /__mock/rules                                   → {ok: true, removed: n}
 *   DELETE /__mock/rules/:id                               → {ok: true} | 404
 *   GET    /__mock/calls?contains=…&model=…                → {calls: MockCall[], count}
 *   DELETE /__mock/calls                                   → {ok: true}
 *   GET    /__mock/health                                  → {ok: true}
 */
import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { setTimeout as sleepTimer } from 'node:timers/promises';
import { z } from 'zod';
import { type MockAction, type MockRule, RuleBook, type RuleInfo, resolveBehavior } from './behaviors.ts';
import { computeUsage, contentToText, splitWordChunks, truncateWords } from './tokens.ts';

export const MOCK_MODEL_IDS = ['mock-1', 'mock-fast', 'gpt-4o-mini'] as const;

/** Default cap on the call log (oldest entries are dropped beyond it). */
export const DEFAULT_MAX_CALLS = 10_000;

const MAX_BODY_BYTES = 16 * 1024 * 1024;

export interface MockCall {
  /** epoch ms when the request was received */
  at: number;
  model: string;
  stream: boolean;
  /** message contents flattened to text */
  messages: { role: string; content: string }[];
  /**
   * HTTP status sent; 0 while nothing has been sent (pending, hanging, or a non-stream request
   * whose socket was destroyed by `break-stream`). A broken stream records 200.
   */
  status: number;
  /** id of the rule that handled the request, if any */
  ruleId?: string;
  /** in-band directive that handled the request, if any (e.g. `fail=500`) */
  directive?: string;
  /** epoch ms when the caller closed the request before the whole answer was sent (it aborted the call) */
  abortedAt?: number;
}

export interface CallFilter {
  /** substring of any message content */
  contains?: string;
  /** exact model */
  model?: string;
}

export interface MockProvider {
  /** base URL ending in /v1, e.g. http://127.0.0.1:40123/v1 */
  url: string;
  port: number;
  /** Validates and appends a rule (throws on an invalid rule); returns its id. */
  addRule(rule: MockRule): string;
  /** Removes one rule; false if it did not exist. Prefer this over clearRules when the server is shared. */
  removeRule(id: string): boolean;
  clearRules(): void;
  rules(): RuleInfo[];
  calls(filter?: CallFilter): MockCall[];
  resetCalls(): void;
  /** Stops listening, ends hanging/in-flight requests and destroys all sockets. Idempotent. */
  close(): Promise<void>;
}

export interface MockProviderOptions {
  /** 0 (default) = ephemeral port */
  port?: number;
  /** default 127.0.0.1 */
  host?: string;
  /** call-log cap, default 10 000 */
  maxCalls?: number;
}

// ---------------------------------------------------------------------------------------------
// Request validation

const contentPartSchema = z.looseObject({ type: z.string(), text: z.string().optional() });

const chatMessageSchema = z.looseObject({
  role: z.string(),
  content: z.union([z.string(), z.array(contentPartSchema), z.null()]).optional(),
});

const chatRequestSchema = z.looseObject({
  model: z.string().min(1),
  messages: z.array(chatMessageSchema).min(1),
  stream: z.boolean().nullish(),
  stream_options: z.looseObject({ include_usage: z.boolean().nullish() }).nullish(),
  max_tokens: z.number().int().min(0).nullish(),
  max_completion_tokens: z.number().int().min(0).nullish(),
});

type ChatRequest = z.infer<typeof chatRequestSchema>;

const callFilterSchema = z.object({
  contains: z.string().optional(),
  model: z.string().optional(),
});

// ---------------------------------------------------------------------------------------------
// Small helpers

class HttpError extends Error {
  readonly status: number;
  constructor(status: number, message: string) {
    super(message);
    this.status = status;
  }
}

function errorTypeFor(status: number): string {
  if (status === 429) return 'rate_limit_error';
  if (status >= 500) return 'server_error';
  return 'invalid_request_error';
}

function newRequestId(): string {
  return `req_mock_${randomBytes(8).toString('hex')}`;
}

function sendJson(
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  if (res.headersSent || res.destroyed) return;
  const payload = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(payload),
    ...headers,
  });
  res.end(payload);
}

function sendError(
  res: ServerResponse,
  status: number,
  message: string,
  headers: Record<string, string> = {},
): void {
  sendJson(res, status, { error: { message, type: errorTypeFor(status), param: null, code: null } }, headers);
}

function describeZodError(err: z.ZodError): string {
  return err.issues
    .map((i) => (i.path.length > 0 ? `${i.path.join('.')}: ${i.message}` : i.message))
    .join('; ');
}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    const buf = typeof chunk === 'string' ? Buffer.from(chunk) : (chunk as Buffer);
    size += buf.length;
    if (size > MAX_BODY_BYTES) throw new HttpError(413, `Request body exceeds ${MAX_BODY_BYTES} bytes`);
    chunks.push(buf);
  }
  return Buffer.concat(chunks).toString('utf8');
}

async function readJson(req: IncomingMessage): Promise<unknown> {
  const text = await readBody(req);
  try {
    return JSON.parse(text) as unknown;
  } catch {
    throw new HttpError(400, 'We could not parse the JSON body of your request. (mock provider)');
  }
}

/** Resolves true after `ms`, false if `signal` aborts first. */
async function sleep(ms: number, signal: AbortSignal): Promise<boolean> {
  if (signal.aborted) return false;
  if (ms <= 0) return true;
  try {
    await sleepTimer(ms, undefined, { signal });
    return true;
  } catch {
    return false;
  }
}

function waitForAbort(signal: AbortSignal): Promise<void> {
  if (signal.aborted) return Promise.resolve();
  return new Promise((resolve) => signal.addEventListener('abort', () => resolve(), { once: true }));
}

/** Destroys the socket once everything written so far has been flushed to it. */
function flushThenDestroy(res: ServerResponse): Promise<void> {
  const socket = res.socket;
  if (!socket || socket.destroyed) return Promise.resolve();
  return new Promise((resolve) => {
    socket.write('', () => {
      socket.destroy();
      resolve();
    });
  });
}

function writeSse(res: ServerResponse, data: unknown): void {
  res.write(`data: ${typeof data === 'string' ? data : JSON.stringify(data)}\n\n`);
}

function matchesFilter(call: MockCall, filter: CallFilter | undefined): boolean {
  if (!filter) return true;
  if (filter.model !== undefined && call.model !== filter.model) return false;
  if (filter.contains !== undefined) {
    const needle = filter.contains;
    if (!call.messages.some((m) => m.content.includes(needle))) return false;
  }
  return true;
}

function echoText(messages: readonly { role: string; content: string }[]): string {
  for (let i = messages.length - 1; i >= 0; i--) {
    const m = messages[i];
    if (m && m.role === 'user') return `Echo: ${m.content}`;
  }
  return `Echo: ${messages.map((m) => m.content).join('\n')}`;
}

function modelObject(id: string): { id: string; object: 'model'; created: number; owned_by: string } {
  return { id, object: 'model', created: 1_700_000_000, owned_by: 'promptmill-mock' };
}

// ---------------------------------------------------------------------------------------------
// Server

export async function startMockProvider(opts: MockProviderOptions = {}): Promise<MockProvider> {
  const host = opts.host ?? '127.0.0.1';
  const maxCalls = opts.maxCalls ?? DEFAULT_MAX_CALLS;
  const book = new RuleBook();
  let callLog: MockCall[] = [];
  const sockets = new Set<Socket>();
  const lifetime = new AbortController();
  let completionSeq = 0;

  function recordCall(call: MockCall): void {
    callLog.push(call);
    if (callLog.length > maxCalls) callLog.splice(0, callLog.length - maxCalls);
  }

  function listCalls(filter?: CallFilter): MockCall[] {
    return callLog.filter((c) => matchesFilter(c, filter)).map((c) => structuredClone(c));
  }

  async function handleChat(
    req: IncomingMessage,
    res: ServerResponse,
    signal: AbortSignal,
    requestId: string,
  ): Promise<void> {
    const body = await readJson(req);
    const parsed = chatRequestSchema.safeParse(body);
    if (!parsed.success) throw new HttpError(400, describeZodError(parsed.error));
    const chat: ChatRequest = parsed.data;

    const messages = chat.messages.map((m) => ({ role: m.role, content: contentToText(m.content) }));
    const contents = messages.map((m) => m.content);
    const stream = chat.stream === true;
    const behavior = resolveBehavior(book, { model: chat.model, contents });

    const call: MockCall = { at: Date.now(), model: chat.model, stream, messages, status: 0 };
    if (behavior?.ruleId !== undefined) call.ruleId = behavior.ruleId;
    if (behavior?.directive !== undefined) call.directive = behavior.directive;
    recordCall(call);
    signal.addEventListener(
      'abort',
      () => {
        if (!res.writableFinished) call.abortedAt = Date.now();
      },
      { once: true },
    );

    const action: MockAction | undefined = behavior?.action;
    let chunkDelayMs = 0;
    let breakAfter: number | undefined;
    let replyContent: string | undefined;

    switch (action?.type) {
      case 'fail': {
        const headers: Record<string, string> = { 'x-request-id': requestId };
        if (action.retryAfterSeconds !== undefined) headers['retry-after'] = String(action.retryAfterSeconds);
        const message =
          action.message ??
          (action.status === 429
            ? 'Rate limit reached (mock provider)'
            : `Mock provider failure with status ${action.status}`);
        call.status = action.status;
        sendError(res, action.status, message, headers);
        return;
      }
      case 'hang':
        await waitForAbort(signal);
        return;
      case 'break-stream':
        if (!stream) {
          res.socket?.destroy();
          return;
        }
        breakAfter = action.afterChunks;
        break;
      case 'delay':
        if (!(await sleep(action.ms, signal))) return;
        chunkDelayMs = action.chunkDelayMs ?? 0;
        break;
      case 'reply':
        replyContent = action.content;
        break;
      case undefined:
        break;
    }

    const maxTokens = chat.max_completion_tokens ?? chat.max_tokens ?? undefined;
    const { text, truncated } = truncateWords(replyContent ?? echoText(messages), maxTokens);
    const finishReason = truncated ? 'length' : 'stop';
    const usage = computeUsage(contents, text);
    completionSeq += 1;
    const id = `chatcmpl-mock${completionSeq}${randomBytes(6).toString('hex')}`;
    const created = Math.floor(Date.now() / 1000);

    if (!stream) {
      call.status = 200;
      sendJson(
        res,
        200,
        {
          id,
          object: 'chat.completion',
          created,
          model: chat.model,
          choices: [
            {
              index: 0,
              message: { role: 'assistant', content: text, refusal: null },
              logprobs: null,
              finish_reason: finishReason,
            },
          ],
          usage,
        },
        { 'x-request-id': requestId },
      );
      return;
    }

    const includeUsage = chat.stream_options?.include_usage === true;
    const base = { id, object: 'chat.completion.chunk', created, model: chat.model };
    const usageField = includeUsage ? { usage: null } : {};
    res.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache',
      connection: 'keep-alive',
      'x-request-id': requestId,
    });
    res.flushHeaders();
    call.status = 200;

    const chunks = splitWordChunks(text);
    for (let i = 0; i < chunks.length; i++) {
      if (breakAfter !== undefined && i >= breakAfter) {
        await flushThenDestroy(res);
        return;
      }
      if (i > 0 && chunkDelayMs > 0 && !(await sleep(chunkDelayMs, signal))) return;
      if (signal.aborted) return;
      const delta = i === 0 ? { role: 'assistant', content: chunks[i] } : { content: chunks[i] };
      writeSse(res, {
        ...base,
        choices: [{ index: 0, delta, logprobs: null, finish_reason: null }],
        ...usageField,
      });
    }
    if (breakAfter !== undefined) {
      await flushThenDestroy(res);
      return;
    }
    if (chunks.length > 0 && chunkDelayMs > 0 && !(await sleep(chunkDelayMs, signal))) return;
    if (signal.aborted) return;
    const finalDelta = chunks.length === 0 ? { role: 'assistant', content: '' } : {};
    writeSse(res, {
      ...base,
      choices: [{ index: 0, delta: finalDelta, logprobs: null, finish_reason: finishReason }],
      ...usageField,
    });
    if (includeUsage) writeSse(res, { ...base, choices: [], usage });
    writeSse(res, '[DONE]');
    res.end();
  }

  async function handleControl(
    req: IncomingMessage,
    res: ServerResponse,
    method: string,
    path: string,
    query: URLSearchParams,
  ): Promise<void> {
    if (path === '/__mock/health' && method === 'GET') return sendJson(res, 200, { ok: true });
    if (path === '/__mock/rules') {
      if (method === 'POST') {
        const body = await readJson(req);
        try {
          return sendJson(res, 200, { id: book.add(body) });
        } catch (err) {
          if (err instanceof z.ZodError) throw new HttpError(400, `Invalid rule: ${describeZodError(err)}`);
          throw err;
        }
      }
      if (method === 'GET') return sendJson(res, 200, { rules: book.list() });
      if (method === 'DELETE') {
        const removed = book.list().length;
        book.clear();
        return sendJson(res, 200, { ok: true, removed });
      }
      throw new HttpError(405, `Method ${method} not allowed on ${path}`);
    }
    const ruleMatch = /^\/__mock\/rules\/([^/]+)$/.exec(path);
    if (ruleMatch?.[1] !== undefined) {
      if (method !== 'DELETE') throw new HttpError(405, `Method ${method} not allowed on ${path}`);
      const id = decodeURIComponent(ruleMatch[1]);
      if (!book.remove(id)) throw new HttpError(404, `No rule ${id}`);
      return sendJson(res, 200, { ok: true });
    }
    if (path === '/__mock/calls') {
      if (method === 'GET') {
        const filter = callFilterSchema.parse({
          contains: query.get('contains') ?? undefined,
          model: query.get('model') ?? undefined,
        });
        const calls = listCalls(filter);
        return sendJson(res, 200, { calls, count: calls.length });
      }
      if (method === 'DELETE') {
        callLog = [];
        return sendJson(res, 200, { ok: true });
      }
      throw new HttpError(405, `Method ${method} not allowed on ${path}`);
    }
    throw new HttpError(404, `Unknown mock control endpoint ${method} ${path}`);
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const requestAbort = new AbortController();
    const signal = AbortSignal.any([requestAbort.signal, lifetime.signal]);
    res.on('close', () => {
      if (!res.writableFinished) requestAbort.abort();
    });
    const requestId = newRequestId();
    try {
      const method = req.method ?? 'GET';
      const url = new URL(req.url ?? '/', 'http://mock.invalid');
      const rawPath = url.pathname.replace(/\/+$/, '') || '/';
      if (rawPath.startsWith('/__mock/')) {
        await handleControl(req, res, method, rawPath, url.searchParams);
        return;
      }
      const path = rawPath.startsWith('/v1/') ? rawPath.slice(3) : rawPath;
      if (path === '/chat/completions') {
        if (method !== 'POST') throw new HttpError(405, `Method ${method} not allowed on ${rawPath}`);
        await handleChat(req, res, signal, requestId);
        return;
      }
      if (path === '/models' && method === 'GET') {
        sendJson(res, 200, { object: 'list', data: MOCK_MODEL_IDS.map(modelObject) });
        return;
      }
      const modelMatch = /^\/models\/([^/]+)$/.exec(path);
      if (modelMatch?.[1] !== undefined && method === 'GET') {
        const id = decodeURIComponent(modelMatch[1]);
        if (!(MOCK_MODEL_IDS as readonly string[]).includes(id)) {
          throw new HttpError(404, `The model '${id}' does not exist`);
        }
        sendJson(res, 200, modelObject(id));
        return;
      }
      throw new HttpError(404, `Unknown endpoint ${method} ${rawPath}`);
    } catch (err) {
      if (res.headersSent) {
        res.destroy();
        return;
      }
      if (err instanceof HttpError) {
        sendError(res, err.status, err.message, { 'x-request-id': requestId });
      } else if (err instanceof z.ZodError) {
        sendError(res, 400, describeZodError(err), { 'x-request-id': requestId });
      } else if (signal.aborted) {
        res.destroy();
      } else {
        const message = err instanceof Error ? err.message : String(err);
        sendError(res, 500, `Mock provider internal error: ${message}`, { 'x-request-id': requestId });
      }
    }
  }

  const server = createServer((req, res) => {
    void handle(req, res);
  });
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  // A misbehaving client must never take the mock down.
  server.on('clientError', (_err, socket) => {
    socket.destroy();
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, host, () => {
      server.off('error', reject);
      resolve();
    });
  });

  const port = (server.address() as AddressInfo).port;
  const urlHost =
    host === '0.0.0.0' || host === ''
      ? '127.0.0.1'
      : host === '::'
        ? '[::1]'
        : host.includes(':')
          ? `[${host}]`
          : host;
  let closing: Promise<void> | undefined;

  return {
    url: `http://${urlHost}:${port}/v1`,
    port,
    addRule: (rule) => book.add(rule),
    removeRule: (id) => book.remove(id),
    clearRules: () => book.clear(),
    rules: () => book.list(),
    calls: (filter) => listCalls(filter),
    resetCalls: () => {
      callLog = [];
    },
    close: () => {
      if (!closing) {
        closing = new Promise<void>((resolve) => {
          lifetime.abort();
          server.close(() => resolve());
          server.closeAllConnections();
          for (const socket of sockets) socket.destroy();
        });
      }
      return closing;
    },
  };
}
