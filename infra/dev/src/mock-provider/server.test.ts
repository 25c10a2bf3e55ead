import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import OpenAI, { APIConnectionError, APIConnectionTimeoutError, APIError } from 'openai';
import type { ChatCompletionChunk } from 'openai/resources/chat/completions';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseDirective } from './behaviors.ts';
import { mockControl } from './client.ts';
import { type MockProvider, startMockProvider } from './server.ts';
import { computeUsage, countWords, splitWordChunks, truncateWords } from './tokens.ts';

let mock: MockProvider;
let client: OpenAI;

beforeAll(async () => {
  mock = await startMockProvider();
  client = new OpenAI({ baseURL: mock.url, apiKey: 'x', maxRetries: 0 });
});

afterAll(async () => {
  await mock.close();
});

/** A unique marker so tests never see each other's calls or rules. */
let seq = 0;
function tag(name: string): string {
  seq += 1;
  return `${name}-${seq}-${Math.random().toString(36).slice(2, 8)}`;
}

async function captureError(p: Promise<unknown>): Promise<unknown> {
  try {
    await p;
  } catch (err) {
    return err;
  }
  throw new Error('expected the promise to reject');
}

async function rawChat(body: string, headers: Record<string, string> = {}): Promise<Response> {
  return fetch(`${mock.url}/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body,
  });
}

describe('tokens', () => {
  it('counts words and splits chunks losslessly', () => {
    expect(countWords('  a  b\nc ')).toBe(3);
    expect(countWords('')).toBe(0);
    const text = ' Echo: hello  big\nworld ';
    expect(splitWordChunks(text).join('')).toBe(text);
    expect(splitWordChunks('Echo: hi there')).toEqual(['Echo: ', 'hi ', 'there']);
    expect(truncateWords('a b c d', 2)).toEqual({ text: 'a b', truncated: true });
    expect(truncateWords('a b', 2)).toEqual({ text: 'a b', truncated: false });
    expect(computeUsage(['one two', 'three'], 'x y')).toEqual({
      prompt_tokens: 2 + 3 + 1 + 3,
      completion_tokens: 2,
      total_tokens: 11,
    });
  });

  it('parses in-band directives', () => {
    expect(parseDirective(['hi [[mock:fail=429]]'])?.action).toEqual({ type: 'fail', status: 429 });
    expect(parseDirective(['x', '[[mock:delay=200]]'])?.action).toEqual({ type: 'delay', ms: 200 });
    expect(parseDirective(['[[mock:hang]]'])?.action).toEqual({ type: 'hang' });
    expect(parseDirective(['[[mock:break=3]]'])?.action).toEqual({ type: 'break-stream', afterChunks: 3 });
    expect(parseDirective(['[[mock:fail=200]] [[mock:nope]]'])).toBeUndefined();
    expect(parseDirective(['plain'])).toBeUndefined();
  });
});

describe('mock provider: default echo model', () => {
  it('answers a non-stream request with the echo and deterministic usage', async () => {
    const res = await client.chat.completions.create({
      model: 'mock-1',
      messages: [
        { role: 'system', content: 'You are helpful' },
        { role: 'user', content: 'hello mock world' },
      ],
    });
    expect(res.object).toBe('chat.completion');
    expect(res.id).toMatch(/^chatcmpl-/);
    expect(res.model).toBe('mock-1');
    expect(typeof res.created).toBe('number');
    expect(res.choices).toHaveLength(1);
    expect(res.choices[0]?.message).toMatchObject({ role: 'assistant', content: 'Echo: hello mock world' });
    expect(res.choices[0]?.finish_reason).toBe('stop');
    // (3 words + 3) + (3 words + 3) = 12 prompt; "Echo: hello mock world" = 4 completion
    expect(res.usage).toEqual({ prompt_tokens: 12, completion_tokens: 4, total_tokens: 16 });
  });

  it('echoes the last user message and concatenates the prompt when there is none', async () => {
    const multi = await client.chat.completions.create({
      model: 'mock-1',
      messages: [
        { role: 'user', content: 'first' },
        { role: 'assistant', content: 'Echo: first' },
        { role: 'user', content: 'second' },
      ],
    });
    expect(multi.choices[0]?.message.content).toBe('Echo: second');

    const sysOnly = await client.chat.completions.create({
      model: 'mock-1',
      messages: [
        { role: 'system', content: 'alpha beta' },
        { role: 'developer', content: 'gamma' },
      ],
    });
    expect(sysOnly.choices[0]?.message.content).toBe('Echo: alpha beta\ngamma');
  });

  it('flattens array content parts', async () => {
    const res = await client.chat.completions.create({
      model: 'mock-1',
      messages: [{ role: 'user', content: [{ type: 'text', text: 'part one' }] }],
    });
    expect(res.choices[0]?.message.content).toBe('Echo: part one');
    expect(res.usage?.prompt_tokens).toBe(2 + 3);
  });

  it('truncates to max_tokens / max_completion_tokens words', async () => {
    const res = await client.chat.completions.create({
      model: 'mock-1',
      max_tokens: 3,
      messages: [{ role: 'user', content: 'one two three four five' }],
    });
    expect(res.choices[0]?.message.content).toBe('Echo: one two');
    expect(res.choices[0]?.finish_reason).toBe('length');
    expect(res.usage).toEqual({ prompt_tokens: 8, completion_tokens: 3, total_tokens: 11 });

    const res2 = await client.chat.completions.create({
      model: 'mock-1',
      max_completion_tokens: 2,
      messages: [{ role: 'user', content: 'one two three' }],
    });
    expect(res2.choices[0]?.message.content).toBe('Echo: one');
  });

  it('lists models', async () => {
    const ids: string[] = [];
    for await (const m of client.models.list()) ids.push(m.id);
    expect(ids).toEqual(expect.arrayContaining(['mock-1', 'mock-fast', 'gpt-4o-mini']));
    const one = await client.models.retrieve('mock-fast');
    expect(one.id).toBe('mock-fast');
  });

  it('accepts requests without an Authorization header', async () => {
    const res = await rawChat(
      JSON.stringify({ model: 'mock-1', messages: [{ role: 'user', content: 'hi' }] }),
    );
    expect(res.status).toBe(200);
    const body = (await res.json()) as { choices: { message: { content: string } }[] };
    expect(body.choices[0]?.message.content).toBe('Echo: hi');
  });

  it('rejects invalid JSON and invalid bodies with a 400 in OpenAI error shape', async () => {
    const res = await rawChat('{not json', { authorization: 'Bearer whatever' });
    expect(res.status).toBe(400);
    const body = (await res.json()) as { error: { message: string; type: string; code: null } };
    expect(body.error.type).toBe('invalid_request_error');
    expect(body.error.code).toBeNull();
    expect(body.error.message).toMatch(/JSON/);

    const res2 = await rawChat(JSON.stringify({ model: 'mock-1' }));
    expect(res2.status).toBe(400);
    const body2 = (await res2.json()) as { error: { message: string; type: string } };
    expect(body2.error.type).toBe('invalid_request_error');
    expect(body2.error.message).toMatch(/messages/);

    // and the SDK surfaces it as a 400 APIError
    const err = await captureError(
      client.chat.completions.create({
        model: 'mock-1',
        messages: [] as { role: 'user'; content: string }[],
      }),
    );
    expect(err).toBeInstanceOf(APIError);
    expect((err as APIError).status).toBe(400);
  });
});

describe('mock provider: streaming', () => {
  it('streams word by word, in order, with a usage chunk when asked', async () => {
    const stream = await client.chat.completions.create({
      model: 'mock-1',
      stream: true,
      stream_options: { include_usage: true },
      messages: [{ role: 'user', content: 'the quick brown fox' }],
    });
    const chunks: ChatCompletionChunk[] = [];
    for await (const c of stream) chunks.push(c);

    const contentChunks = chunks.filter((c) => c.choices[0]?.delta.content);
    expect(contentChunks.map((c) => c.choices[0]?.delta.content)).toEqual([
      'Echo: ',
      'the ',
      'quick ',
      'brown ',
      'fox',
    ]);
    expect(chunks.every((c) => c.object === 'chat.completion.chunk')).toBe(true);
    expect(new Set(chunks.map((c) => c.id)).size).toBe(1);
    expect(chunks[0]?.choices[0]?.delta.role).toBe('assistant');

    const finishIdx = chunks.findIndex((c) => c.choices[0]?.finish_reason === 'stop');
    expect(finishIdx).toBe(contentChunks.length);
    const last = chunks.at(-1);
    expect(finishIdx).toBe(chunks.length - 2);
    expect(last?.choices).toEqual([]);
    expect(last?.usage).toEqual({ prompt_tokens: 4 + 3, completion_tokens: 5, total_tokens: 12 });
  });

  it('omits the usage chunk without include_usage and ends with [DONE]', async () => {
    const res = await rawChat(
      JSON.stringify({ model: 'mock-1', stream: true, messages: [{ role: 'user', content: 'a b' }] }),
    );
    expect(res.headers.get('content-type')).toMatch(/text\/event-stream/);
    const text = await res.text();
    const events = text
      .split('\n\n')
      .filter((e) => e.length > 0)
      .map((e) => e.replace(/^data: /, ''));
    expect(events.at(-1)).toBe('[DONE]');
    const parsed = events.slice(0, -1).map((e) => JSON.parse(e) as ChatCompletionChunk);
    expect(parsed).toHaveLength(4); // "Echo: ", "a ", "b", finish
    expect(parsed.some((c) => c.usage)).toBe(false);
    expect(parsed.at(-1)?.choices[0]?.finish_reason).toBe('stop');
  });

  it('delivers the first chunk long before the end when chunkDelayMs is set', async () => {
    const t = tag('slow-stream');
    mock.addRule({ match: { contains: t }, action: { type: 'delay', ms: 0, chunkDelayMs: 80 } });
    const start = performance.now();
    const stream = await client.chat.completions.create({
      model: 'mock-1',
      stream: true,
      messages: [{ role: 'user', content: `${t} one two three` }],
    });
    const arrivals: number[] = [];
    let content = '';
    for await (const c of stream) {
      const d = c.choices[0]?.delta.content;
      if (d) {
        arrivals.push(performance.now() - start);
        content += d;
      }
    }
    const done = performance.now() - start;
    expect(content).toBe(`Echo: ${t} one two three`);
    expect(arrivals).toHaveLength(5);
    // 4 gaps between 5 content chunks + 1 before the finish chunk, 80ms each
    expect(done).toBeGreaterThanOrEqual(5 * 80 * 0.9);
    expect(arrivals[0]).toBeLessThan(done - 3 * 80);
    // paced: the chunks are spread over the 4 gaps (a client that reads late on a busy machine can
    // see one gap shrink while the next grows, so the span is checked rather than each gap)
    expect(arrivals.at(-1)! - arrivals[0]!).toBeGreaterThanOrEqual(4 * 80 * 0.75);
  });
});

describe('mock provider: behaviours', () => {
  it('fails with 429 and a Retry-After header visible on the APIError', async () => {
    const t = tag('rate');
    mock.addRule({
      match: { contains: t },
      times: 1,
      action: { type: 'fail', status: 429, retryAfterSeconds: 7, message: 'slow down' },
    });
    const err = await captureError(
      client.chat.completions.create({ model: 'mock-1', messages: [{ role: 'user', content: t }] }),
    );
    expect(err).toBeInstanceOf(OpenAI.RateLimitError);
    const apiErr = err as APIError;
    expect(apiErr.status).toBe(429);
    expect(apiErr.headers?.get('retry-after')).toBe('7');
    expect(apiErr.type).toBe('rate_limit_error');
    expect(apiErr.message).toContain('slow down');
    expect(mock.calls({ contains: t }).map((c) => c.status)).toEqual([429]);
  });

  it('fails with 500 server_error', async () => {
    const t = tag('boom');
    const ruleId = mock.addRule({ match: { contains: t }, action: { type: 'fail', status: 500 } });
    const err = await captureError(
      client.chat.completions.create({ model: 'mock-1', messages: [{ role: 'user', content: t }] }),
    );
    expect(err).toBeInstanceOf(OpenAI.InternalServerError);
    expect((err as APIError).status).toBe(500);
    expect((err as APIError).type).toBe('server_error');
    expect((err as APIError).headers?.get('retry-after')).toBeNull();
    expect(mock.calls({ contains: t })[0]?.ruleId).toBe(ruleId);
    expect(mock.removeRule(ruleId)).toBe(true);
    expect(mock.removeRule(ruleId)).toBe(false);
  });

  it('fails with a 4xx as invalid_request_error', async () => {
    const t = tag('bad');
    mock.addRule({ match: { contains: t }, times: 1, action: { type: 'fail', status: 422 } });
    const err = await captureError(
      client.chat.completions.create({ model: 'mock-1', messages: [{ role: 'user', content: t }] }),
    );
    expect((err as APIError).status).toBe(422);
    expect((err as APIError).type).toBe('invalid_request_error');
  });

  it('fails `times` times and then succeeds', async () => {
    const t = tag('retry-abc');
    mock.addRule({ match: { contains: t }, times: 2, action: { type: 'fail', status: 500 } });
    const ask = () =>
      client.chat.completions.create({ model: 'mock-1', messages: [{ role: 'user', content: t }] });
    expect(((await captureError(ask())) as APIError).status).toBe(500);
    expect(((await captureError(ask())) as APIError).status).toBe(500);
    const ok = await ask();
    expect(ok.choices[0]?.message.content).toBe(`Echo: ${t}`);
    const calls = mock.calls({ contains: t });
    expect(calls.map((c) => c.status)).toEqual([500, 500, 200]);
    expect(calls[0]?.ruleId).toBeDefined();
    expect(calls[2]?.ruleId).toBeUndefined();

    // the SDK's own retries get through too
    const t2 = tag('retry-sdk');
    mock.addRule({ match: { contains: t2 }, times: 2, action: { type: 'fail', status: 503 } });
    const retrying = new OpenAI({ baseURL: mock.url, apiKey: 'x', maxRetries: 2 });
    const res = await retrying.chat.completions.create({
      model: 'mock-1',
      messages: [{ role: 'user', content: t2 }],
    });
    expect(res.choices[0]?.message.content).toBe(`Echo: ${t2}`);
    expect(mock.calls({ contains: t2 })).toHaveLength(3);
  });

  it('uses the first non-exhausted matching rule in insertion order', async () => {
    const t = tag('order');
    mock.addRule({ match: { contains: t }, times: 1, action: { type: 'reply', content: 'first' } });
    mock.addRule({ match: { contains: t }, action: { type: 'reply', content: 'second' } });
    const ask = async () =>
      (await client.chat.completions.create({ model: 'mock-1', messages: [{ role: 'user', content: t }] }))
        .choices[0]?.message.content;
    expect(await ask()).toBe('first');
    expect(await ask()).toBe('second');
    expect(await ask()).toBe('second');
  });

  it('applies a per-model rule only to that model', async () => {
    const model = tag('model-under-test');
    mock.addRule({ match: { model }, action: { type: 'reply', content: 'fixed answer here' } });
    const hit = await client.chat.completions.create({ model, messages: [{ role: 'user', content: 'hi' }] });
    expect(hit.choices[0]?.message.content).toBe('fixed answer here');
    expect(hit.usage?.completion_tokens).toBe(3);
    const miss = await client.chat.completions.create({
      model: 'mock-fast',
      messages: [{ role: 'user', content: 'hi' }],
    });
    expect(miss.choices[0]?.message.content).toBe('Echo: hi');
  });

  it('delays and then answers normally', async () => {
    const t = tag('slow');
    mock.addRule({ match: { contains: t }, times: 1, action: { type: 'delay', ms: 150 } });
    const start = performance.now();
    const res = await client.chat.completions.create({
      model: 'mock-1',
      messages: [{ role: 'user', content: t }],
    });
    expect(performance.now() - start).toBeGreaterThanOrEqual(140);
    expect(res.choices[0]?.message.content).toBe(`Echo: ${t}`);
  });

  it('hangs until the client times out', async () => {
    const t = tag('hang');
    mock.addRule({ match: { contains: t }, action: { type: 'hang' } });
    const start = performance.now();
    const err = await captureError(
      client.chat.completions.create(
        { model: 'mock-1', messages: [{ role: 'user', content: t }] },
        { timeout: 200 },
      ),
    );
    expect(err).toBeInstanceOf(APIConnectionTimeoutError);
    expect(performance.now() - start).toBeLessThan(2000);
    expect(mock.calls({ contains: t })).toMatchObject([{ status: 0 }]);
  });

  it('records when the caller aborted a call before the answer, and only then', async () => {
    const t = tag('aborted');
    mock.addRule({ match: { contains: t }, times: 1, action: { type: 'delay', ms: 5_000 } });
    const controller = new AbortController();
    const pending = captureError(
      client.chat.completions.create(
        { model: 'mock-1', messages: [{ role: 'user', content: t }] },
        { signal: controller.signal },
      ),
    );
    await expect.poll(() => mock.calls({ contains: t }).length).toBe(1);
    const abortedAt = Date.now();
    controller.abort();
    await pending;
    await expect.poll(() => mock.calls({ contains: t })[0]?.abortedAt).toBeDefined();
    const [call] = mock.calls({ contains: t });
    expect(call!.abortedAt! - abortedAt).toBeLessThan(1_000);
    expect(call!.status).toBe(0);
    // an answered call has none
    await client.chat.completions.create({ model: 'mock-1', messages: [{ role: 'user', content: t }] });
    expect(mock.calls({ contains: t })[1]?.abortedAt).toBeUndefined();
  });

  it('close() ends hanging requests, delayed requests and idle sockets quickly', async () => {
    const own = await startMockProvider();
    const ownClient = new OpenAI({ baseURL: own.url, apiKey: 'x', maxRetries: 0 });
    // an idle keep-alive socket
    await ownClient.chat.completions.create({
      model: 'mock-1',
      messages: [{ role: 'user', content: 'warm' }],
    });
    const hanging = captureError(
      ownClient.chat.completions.create({
        model: 'mock-1',
        messages: [{ role: 'user', content: '[[mock:hang]]' }],
      }),
    );
    const delayed = captureError(
      ownClient.chat.completions.create({
        model: 'mock-1',
        messages: [{ role: 'user', content: '[[mock:delay=600000]]' }],
      }),
    );
    await new Promise((r) => setTimeout(r, 100));
    expect(own.calls()).toHaveLength(3);
    const start = performance.now();
    await own.close();
    expect(performance.now() - start).toBeLessThan(500);
    expect(await hanging).toBeInstanceOf(APIConnectionError);
    expect(await delayed).toBeInstanceOf(APIConnectionError);
    await own.close(); // idempotent
    await expect(fetch(`${own.url}/models`)).rejects.toThrow();
  });

  it('breaks a stream after N content chunks', async () => {
    const t = tag('break');
    mock.addRule({ match: { contains: t }, action: { type: 'break-stream', afterChunks: 2 } });
    const stream = await client.chat.completions.create({
      model: 'mock-1',
      stream: true,
      messages: [{ role: 'user', content: `${t} a b c d` }],
    });
    const got: string[] = [];
    const err = await captureError(
      (async () => {
        for await (const c of stream) got.push(c.choices[0]?.delta.content ?? '');
      })(),
    );
    expect(err).toBeInstanceOf(Error);
    expect(got).toEqual(['Echo: ', `${t} `]);
    expect(mock.calls({ contains: t })).toMatchObject([{ status: 200, stream: true }]);

    // non-stream: the socket is destroyed without an answer
    const err2 = await captureError(
      client.chat.completions.create({ model: 'mock-1', messages: [{ role: 'user', content: t }] }),
    );
    expect(err2).toBeInstanceOf(APIConnectionError);
  });

  it('honours in-band directives on every call containing them', async () => {
    const t = tag('inband');
    for (const status of [500, 429] as const) {
      for (let i = 0; i < 2; i++) {
        const err = await captureError(
          client.chat.completions.create({
            model: 'mock-1',
            messages: [{ role: 'user', content: `${t} [[mock:fail=${status}]]` }],
          }),
        );
        expect((err as APIError).status).toBe(status);
      }
    }

    const start = performance.now();
    const delayed = await client.chat.completions.create({
      model: 'mock-1',
      messages: [
        { role: 'system', content: '[[mock:delay=200]]' },
        { role: 'user', content: t },
      ],
    });
    expect(performance.now() - start).toBeGreaterThanOrEqual(190);
    expect(delayed.choices[0]?.message.content).toBe(`Echo: ${t}`);

    const hangErr = await captureError(
      client.chat.completions.create(
        { model: 'mock-1', messages: [{ role: 'user', content: `${t} [[mock:hang]]` }] },
        { timeout: 200 },
      ),
    );
    expect(hangErr).toBeInstanceOf(APIConnectionTimeoutError);

    const stream = await client.chat.completions.create({
      model: 'mock-1',
      stream: true,
      messages: [{ role: 'user', content: `${t} [[mock:break=3]] x y z` }],
    });
    const got: string[] = [];
    const breakErr = await captureError(
      (async () => {
        for await (const c of stream) got.push(c.choices[0]?.delta.content ?? '');
      })(),
    );
    expect(breakErr).toBeInstanceOf(Error);
    expect(got).toHaveLength(3);

    const calls = mock.calls({ contains: t });
    expect(calls.map((c) => c.directive)).toEqual([
      'fail=500',
      'fail=500',
      'fail=429',
      'fail=429',
      'delay=200',
      'hang',
      'break=3',
    ]);
  });

  it('lets rules with `times` take precedence over in-band directives', async () => {
    const t = tag('combo');
    mock.addRule({ match: { contains: t }, times: 1, action: { type: 'fail', status: 502 } });
    const ask = () =>
      client.chat.completions.create({
        model: 'mock-1',
        messages: [{ role: 'user', content: `${t} [[mock:delay=50]]` }],
      });
    expect(((await captureError(ask())) as APIError).status).toBe(502);
    expect((await ask()).choices[0]?.message.content).toBe(`Echo: ${t} [[mock:delay=50]]`);
    expect(mock.calls({ contains: t }).map((c) => c.directive ?? c.ruleId)).toEqual([
      expect.stringMatching(/^rule_/),
      'delay=50',
    ]);
  });

  it('rejects invalid rules', () => {
    expect(() => mock.addRule({ action: { type: 'fail', status: 200 } })).toThrow();
    // @ts-expect-error unknown action type
    expect(() => mock.addRule({ action: { type: 'explode' } })).toThrow();
  });
});

describe('mock provider: call log and HTTP control', () => {
  it('counts calls with contains/model filters and resets them', async () => {
    const own = await startMockProvider();
    try {
      const c = new OpenAI({ baseURL: own.url, apiKey: 'x', maxRetries: 0 });
      await c.chat.completions.create({
        model: 'mock-1',
        messages: [{ role: 'user', content: 'apple pie' }],
      });
      await c.chat.completions.create({
        model: 'mock-fast',
        messages: [{ role: 'user', content: 'apple tart' }],
      });
      const s = await c.chat.completions.create({
        model: 'mock-fast',
        stream: true,
        messages: [
          { role: 'system', content: 'be brief' },
          { role: 'user', content: 'banana' },
        ],
      });
      for await (const _ of s) {
        // drain
      }
      expect(own.calls()).toHaveLength(3);
      expect(own.calls({ contains: 'apple' })).toHaveLength(2);
      expect(own.calls({ model: 'mock-fast' })).toHaveLength(2);
      expect(own.calls({ contains: 'apple', model: 'mock-fast' })).toHaveLength(1);
      expect(own.calls({ contains: 'brief' })).toMatchObject([
        {
          model: 'mock-fast',
          stream: true,
          status: 200,
          messages: [
            { role: 'system', content: 'be brief' },
            { role: 'user', content: 'banana' },
          ],
        },
      ]);
      const first = own.calls()[0];
      expect(typeof first?.at).toBe('number');
      // returned calls are snapshots
      if (first) first.model = 'mutated';
      expect(own.calls()[0]?.model).toBe('mock-1');
      own.resetCalls();
      expect(own.calls()).toHaveLength(0);
    } finally {
      await own.close();
    }
  });

  it('is controllable over HTTP', async () => {
    const own = await startMockProvider();
    const origin = new URL(own.url).origin;
    try {
      const c = new OpenAI({ baseURL: own.url, apiKey: 'x', maxRetries: 0 });
      const add = await fetch(`${origin}/__mock/rules`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ match: { contains: 'ctl' }, times: 1, action: { type: 'fail', status: 503 } }),
      });
      expect(add.status).toBe(200);
      const { id } = (await add.json()) as { id: string };
      expect(id).toMatch(/^rule_/);

      const listed = (await (await fetch(`${origin}/__mock/rules`)).json()) as { rules: { id: string }[] };
      expect(listed.rules.map((r) => r.id)).toEqual([id]);

      const bad = await fetch(`${origin}/__mock/rules`, {
        method: 'POST',
        body: JSON.stringify({ action: { type: 'break-stream' } }),
      });
      expect(bad.status).toBe(400);
      expect(((await bad.json()) as { error: { message: string } }).error.message).toMatch(/afterChunks/);

      const err = await captureError(
        c.chat.completions.create({ model: 'mock-1', messages: [{ role: 'user', content: 'ctl 1' }] }),
      );
      expect((err as APIError).status).toBe(503);
      await c.chat.completions.create({ model: 'mock-fast', messages: [{ role: 'user', content: 'ctl 2' }] });

      const calls = (await (await fetch(`${origin}/__mock/calls?contains=ctl`)).json()) as {
        calls: { status: number; ruleId?: string }[];
        count: number;
      };
      expect(calls.count).toBe(2);
      expect(calls.calls.map((x) => x.status)).toEqual([503, 200]);
      expect(calls.calls[0]?.ruleId).toBe(id);
      const byModel = (await (await fetch(`${origin}/__mock/calls?model=mock-fast&contains=ctl`)).json()) as {
        count: number;
      };
      expect(byModel.count).toBe(1);

      // remove one rule, clear all rules, clear calls
      const addAgain = (await (
        await fetch(`${origin}/__mock/rules`, {
          method: 'POST',
          body: JSON.stringify({ action: { type: 'reply', content: 'canned' } }),
        })
      ).json()) as { id: string };
      expect(
        (await c.chat.completions.create({ model: 'm', messages: [{ role: 'user', content: 'q' }] }))
          .choices[0]?.message.content,
      ).toBe('canned');
      expect((await fetch(`${origin}/__mock/rules/${addAgain.id}`, { method: 'DELETE' })).status).toBe(200);
      expect((await fetch(`${origin}/__mock/rules/${addAgain.id}`, { method: 'DELETE' })).status).toBe(404);
      expect(
        (await c.chat.completions.create({ model: 'm', messages: [{ role: 'user', content: 'q' }] }))
          .choices[0]?.message.content,
      ).toBe('Echo: q');

      own.addRule({ action: { type: 'reply', content: 'again' } });
      expect((await fetch(`${origin}/__mock/rules`, { method: 'DELETE' })).status).toBe(200);
      expect(own.rules()).toEqual([]);

      expect((await fetch(`${origin}/__mock/calls`, { method: 'DELETE' })).status).toBe(200);
      const empty = (await (await fetch(`${origin}/__mock/calls`)).json()) as { count: number };
      expect(empty.count).toBe(0);

      expect((await fetch(`${origin}/__mock/nope`)).status).toBe(404);
      expect((await fetch(`${origin}/__mock/health`)).status).toBe(200);
    } finally {
      await own.close();
    }
  });

  it('has a typed HTTP control client', async () => {
    const ctl = mockControl(mock.url);
    const t = tag('ctl-client');
    const id = await ctl.addRule({
      match: { contains: t },
      times: 1,
      action: { type: 'reply', content: 'via http' },
    });
    const res = await client.chat.completions.create({
      model: 'mock-1',
      messages: [{ role: 'user', content: t }],
    });
    expect(res.choices[0]?.message.content).toBe('via http');
    const calls = await ctl.calls({ contains: t });
    expect(calls).toHaveLength(1);
    expect(calls[0]?.ruleId).toBe(id);
    expect((await ctl.rules()).find((r) => r.id === id)).toMatchObject({ remaining: 0, hits: 1 });
    expect(await ctl.removeRule(id)).toBe(true);
    expect(await ctl.removeRule(id)).toBe(false);
    await expect(ctl.addRule({ action: { type: 'fail', status: 99 } })).rejects.toThrow(/400/);
  });
});

describe('mock provider CLI', () => {
  it('prints its URL, serves, and exits on SIGTERM', async () => {
    const here = dirname(fileURLToPath(import.meta.url));
    const root = join(here, '..', '..', '..', '..');
    const child = spawn(join(root, 'node_modules', '.bin', 'tsx'), [join(here, 'main.ts'), '--port', '0'], {
      cwd: root,
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    try {
      const rl = createInterface({ input: child.stdout });
      const [line] = (await once(rl, 'line')) as [string];
      const { url } = JSON.parse(line) as { url: string };
      expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/v1$/);
      const c = new OpenAI({ baseURL: url, apiKey: 'x', maxRetries: 0 });
      const res = await c.chat.completions.create({
        model: 'mock-1',
        messages: [{ role: 'user', content: 'cli' }],
      });
      expect(res.choices[0]?.message.content).toBe('Echo: cli');
      const exited = once(child, 'exit');
      child.kill('SIGTERM');
      const [code] = (await exited) as [number | null];
      expect(code).toBe(0);
    } finally {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    }
  }, 20_000);
});
