// The provider clients' fetch (node:http) must look to the openai SDK exactly like the global fetch:
// the same answers, errors and failure classes, through a real local HTTP server.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { gzipSync } from 'node:zlib';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { classifyProviderError } from '../provider-call/provider-failure.ts';
import { nodeHttpFetch } from './http-fetch.ts';

type Handler = (req: IncomingMessage, res: ServerResponse, body: string) => void;
let handler: Handler = (_req, res) => res.end();
let server: Server;
let baseURL: string;

beforeAll(async () => {
  server = createServer((req, res) => {
    let body = '';
    req.on('data', (c) => {
      body += c;
    });
    req.on('end', () => handler(req, res, body));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  baseURL = `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1`;
});
afterAll(() => {
  server.closeAllConnections();
  server.close();
});

const completion = (content: string) => ({
  id: 'c1',
  object: 'chat.completion',
  created: 1,
  model: 'm',
  choices: [{ index: 0, message: { role: 'assistant', content }, finish_reason: 'stop', logprobs: null }],
  usage: { prompt_tokens: 3, completion_tokens: 2, total_tokens: 5 },
});

const client = (opts: { timeout?: number } = {}) =>
  new OpenAI({ baseURL, apiKey: 'k', maxRetries: 0, timeout: opts.timeout ?? 5_000, fetch: nodeHttpFetch });
const ask = (c = client(), signal?: AbortSignal) =>
  c.chat.completions.create({ model: 'm', messages: [{ role: 'user', content: 'hi' }] }, { signal });

describe('nodeHttpFetch through the openai SDK', () => {
  it('sends the request the SDK built and reads a JSON answer', async () => {
    let seen: { method?: string; url?: string; auth?: string; type?: string; body?: unknown } = {};
    handler = (req, res, body) => {
      seen = {
        method: req.method,
        url: req.url,
        auth: req.headers.authorization,
        type: req.headers['content-type'],
        body: JSON.parse(body),
      };
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(completion('hello')));
    };
    const answer = await ask();
    expect(answer.choices[0]?.message.content).toBe('hello');
    expect(answer.usage?.prompt_tokens).toBe(3);
    expect(seen).toEqual({
      method: 'POST',
      url: '/v1/chat/completions',
      auth: 'Bearer k',
      type: 'application/json',
      body: { model: 'm', messages: [{ role: 'user', content: 'hi' }] },
    });
  });

  it('decodes a gzip answer', async () => {
    handler = (_req, res) =>
      res
        .writeHead(200, { 'content-type': 'application/json', 'content-encoding': 'gzip' })
        .end(gzipSync(JSON.stringify(completion('zipped'))));
    expect((await ask()).choices[0]?.message.content).toBe('zipped');
  });

  it('a 429 with Retry-After is the SDK error the run policy reads', async () => {
    handler = (_req, res) =>
      res
        .writeHead(429, { 'content-type': 'application/json', 'retry-after': '2', 'x-request-id': 'req_1' })
        .end(JSON.stringify({ error: { message: 'slow down' } }));
    const err = await ask().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OpenAI.RateLimitError);
    expect(classifyProviderError(err, 'm')).toEqual({
      code: 'PROVIDER_ERROR',
      message: "Model 'm' is rate limited by its provider (HTTP 429)",
      nonRetryable: false,
      retryAfterMs: 2_000,
    });
  });

  it('a 400 is a non-retryable rejection', async () => {
    handler = (_req, res) =>
      res
        .writeHead(400, { 'content-type': 'application/json' })
        .end(JSON.stringify({ error: { message: 'no' } }));
    expect(classifyProviderError(await ask().catch((e: unknown) => e), 'm')).toMatchObject({
      code: 'PROVIDER_REJECTED',
      nonRetryable: true,
    });
  });

  it('streams server-sent events as they come', async () => {
    handler = (_req, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      const chunk = (content: string, finish: string | null) =>
        `data: ${JSON.stringify({ id: 'c', object: 'chat.completion.chunk', created: 1, model: 'm', choices: [{ index: 0, delta: { content }, finish_reason: finish }] })}\n\n`;
      res.write(chunk('a', null));
      setTimeout(() => {
        res.write(chunk('b', 'stop'));
        res.end('data: [DONE]\n\n');
      }, 50);
    };
    const stream = await client().chat.completions.create({
      model: 'm',
      messages: [{ role: 'user', content: 'hi' }],
      stream: true,
    });
    const seen: string[] = [];
    for await (const c of stream) seen.push(c.choices[0]?.delta.content ?? '');
    expect(seen).toEqual(['a', 'b']);
  });

  it('an abort stops the request at once: the SDK reports a user abort', async () => {
    handler = () => {}; // never answers
    const controller = new AbortController();
    const asking = ask(client(), controller.signal).catch((e: unknown) => e);
    setTimeout(() => controller.abort(), 50);
    const started = performance.now();
    expect(await asking).toBeInstanceOf(OpenAI.APIUserAbortError);
    expect(performance.now() - started).toBeLessThan(1_000);
  });

  it('an abort mid-stream ends the stream at once (the SDK ends its iteration, as with the global fetch)', async () => {
    handler = (_req, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.write(
        `data: ${JSON.stringify({ id: 'c', object: 'chat.completion.chunk', created: 1, model: 'm', choices: [{ index: 0, delta: { content: 'a' }, finish_reason: null }] })}\n\n`,
      );
    };
    const controller = new AbortController();
    const stream = await client().chat.completions.create(
      { model: 'm', messages: [{ role: 'user', content: 'hi' }], stream: true },
      { signal: controller.signal },
    );
    const seen: string[] = [];
    const reading = (async () => {
      for await (const c of stream) {
        seen.push(c.choices[0]?.delta.content ?? '');
        controller.abort();
      }
    })();
    const started = performance.now();
    await reading.catch(() => {});
    expect(performance.now() - started).toBeLessThan(1_000);
    expect(seen).toEqual(['a']);
  });

  it('the SDK timeout is a timeout, a refused connection is unreachable', async () => {
    handler = () => {};
    const timedOut = await ask(client({ timeout: 100 })).catch((e: unknown) => e);
    expect(timedOut).toBeInstanceOf(OpenAI.APIConnectionTimeoutError);
    expect(classifyProviderError(timedOut, 'm').message).toBe("Model 'm' timed out");

    const refused = new OpenAI({
      baseURL: 'http://127.0.0.1:1/v1',
      apiKey: 'k',
      maxRetries: 0,
      fetch: nodeHttpFetch,
    });
    const err = await ask(refused).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OpenAI.APIConnectionError);
    expect(classifyProviderError(err, 'm').message).toBe(
      "Model 'm' is unreachable: the connection to its provider failed",
    );
  });
});
