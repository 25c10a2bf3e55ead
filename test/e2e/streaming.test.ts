// Streaming runs (`POST /api/v1/run` with `stream: true`): SSE order and timing, mid-stream failure,
// usage of streamed and broken streams, client disconnect, several api processes.

import { countWords, splitWordChunks } from '@promptmill/dev/mock-provider';
import { type ServiceProcess, startService, stopChild } from '@promptmill/dev/stack';
import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { E2E_ENV } from './global-setup.ts';
import { apiUrl, createOrg, createPrompt, mock, type TestOrg, unique } from './helpers.ts';

const sql = postgres(inject('databaseUrl'), { max: 2, onnotice: () => {} });
afterAll(() => sql.end());

interface SseEvent {
  event: string;
  data: Record<string, unknown>;
  /** ms since the request was sent */
  at: number;
}

interface StreamResult {
  status: number;
  headers: Headers;
  /** SSE events, or the parsed JSON body when the answer is not a stream */
  events: SseEvent[];
  json: unknown;
}

/**
 * POSTs a streaming run and reads the answer as SSE events as they arrive. `onEvent` may return
 * 'disconnect' to drop the connection (the client going away).
 */
async function streamRun(
  key: string,
  body: Record<string, unknown>,
  opts: { baseUrl?: string; onEvent?: (e: SseEvent) => 'disconnect' | undefined } = {},
): Promise<StreamResult> {
  const started = performance.now();
  const controller = new AbortController();
  const res = await fetch(`${opts.baseUrl ?? apiUrl}/api/v1/run`, {
    method: 'POST',
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
    body: JSON.stringify({ stream: true, ...body }),
    signal: controller.signal,
  });
  if (!res.headers.get('content-type')?.startsWith('text/event-stream')) {
    return { status: res.status, headers: res.headers, events: [], json: await res.json() };
  }
  const events: SseEvent[] = [];
  const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = '';
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buffer += value;
      for (let end = buffer.indexOf('\n\n'); end >= 0; end = buffer.indexOf('\n\n')) {
        const block = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        const lines = block.split('\n').filter((l) => !l.startsWith(':'));
        if (lines.length === 0) continue;
        const event = lines.find((l) => l.startsWith('event: '))?.slice(7) ?? 'message';
        const data = lines.find((l) => l.startsWith('data: '))?.slice(6) ?? '{}';
        const e = {
          event,
          data: JSON.parse(data) as Record<string, unknown>,
          at: performance.now() - started,
        };
        events.push(e);
        if (opts.onEvent?.(e) === 'disconnect') {
          controller.abort();
          return { status: res.status, headers: res.headers, events, json: undefined };
        }
      }
    }
  } finally {
    reader.releaseLock();
  }
  expect(buffer.trim()).toBe('');
  return { status: res.status, headers: res.headers, events, json: undefined };
}

async function attemptRows(runId: string) {
  return sql<
    {
      status: string;
      errorCode: string | null;
      promptTokens: number;
      completionTokens: number;
      cost: string;
    }[]
  >`SELECT status, error_code AS "errorCode", prompt_tokens AS "promptTokens",
           completion_tokens AS "completionTokens", cost::text AS cost
    FROM usage_events WHERE run_id = ${runId} AND kind = 'attempt' ORDER BY seq`;
}

async function runRow(runId: string) {
  const [row] = await sql<
    {
      status: string;
      mode: string;
      output: string | null;
      errorCode: string | null;
      promptTokens: number;
      completionTokens: number;
    }[]
  >`SELECT status, mode, output, error_code AS "errorCode", prompt_tokens AS "promptTokens",
           completion_tokens AS "completionTokens" FROM runs WHERE id = ${runId}`;
  return row;
}

async function runUsageRows(runId: string) {
  return sql<{ status: string; promptTokens: number; completionTokens: number }[]>`
    SELECT status, prompt_tokens AS "promptTokens", completion_tokens AS "completionTokens"
    FROM usage_events WHERE run_id = ${runId} AND kind = 'run'`;
}

async function waitFor<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

const deltasOf = (events: SseEvent[]) =>
  events.filter((e) => e.event === 'delta').map((e) => String(e.data.delta));

/** Groups consecutive provider chunks the way `deltas` did; differs from `deltas` if any split a chunk. */
function regroup(chunks: string[], deltas: string[]): string[] {
  const groups: string[] = [];
  let i = 0;
  for (const d of deltas) {
    let group = '';
    while (group.length < d.length && i < chunks.length) group += chunks[i++];
    groups.push(group);
  }
  return groups;
}

describe('streaming runs', () => {
  let org: TestOrg;
  beforeAll(async () => {
    org = await createOrg();
  });

  it('streams deltas in the provider order as they arrive, then one done event with the usage', async () => {
    const marker = unique('stream');
    const content = `${marker} alpha beta gamma delta epsilon zeta eta theta`;
    const expected = `Echo: ${content}`;
    const name = await createPrompt(org.key, { template: content });
    const ruleId = await mock.addRule({
      match: { contains: marker },
      action: { type: 'delay', ms: 0, chunkDelayMs: 100 },
    });
    try {
      const res = await streamRun(org.key, { promptName: name });

      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toMatch(/^text\/event-stream/);
      expect(res.headers.get('cache-control')).toContain('no-cache');
      expect(res.headers.get('x-accel-buffering')).toBe('no');
      const runId = res.headers.get('x-run-id');
      expect(runId).toMatch(/^run_/);

      const chunks = splitWordChunks(expected);
      expect(chunks).toHaveLength(10);
      const deltas = deltasOf(res.events);
      expect(res.events.map((e) => e.event)).toEqual([...deltas.map(() => 'delta'), 'done']);
      // in the provider's order, each delta made of whole provider chunks; chunks 100 ms apart
      // get their own event (only chunks within one NOTIFY round trip would share one)
      expect(deltas.join('')).toBe(expected);
      expect(regroup(chunks, deltas)).toEqual(deltas);
      expect(deltas.length).toBeGreaterThanOrEqual(8);

      // the provider takes ~1 s for 10 chunks: the first delta must come long before its end
      const first = res.events[0]!.at;
      const lastDelta = res.events.at(-2)!.at;
      expect(lastDelta - first).toBeGreaterThan(600);
      expect(res.events.at(-1)!.at - first).toBeGreaterThan(600);

      const promptTokens = countWords(content) + 3;
      const done = res.events.at(-1)!.data;
      expect(done).toEqual({
        runId,
        output: expected,
        model: 'mock-1',
        promptVersion: 1,
        durationMs: expect.any(Number),
        usage: {
          promptTokens,
          completionTokens: 10,
          totalTokens: promptTokens + 10,
          // mock-1 costs $1 / $2 per 1M prompt / completion tokens
          cost: (promptTokens * 1 + 10 * 2) / 1e6,
        },
      });

      const attempts = await attemptRows(runId!);
      expect(attempts).toEqual([
        {
          status: 'succeeded',
          errorCode: null,
          promptTokens,
          completionTokens: 10,
          cost: expect.any(String),
        },
      ]);
      expect(Number(attempts[0]!.cost)).toBeCloseTo((promptTokens + 20) / 1e6, 12);
      expect(await runRow(runId!)).toEqual({
        status: 'succeeded',
        mode: 'stream',
        output: expected,
        errorCode: null,
        promptTokens,
        completionTokens: 10,
      });
      expect(await runUsageRows(runId!)).toEqual([
        { status: 'succeeded', promptTokens, completionTokens: 10 },
      ]);
      const calls = await mock.calls({ contains: marker });
      expect(calls.map((c) => c.stream)).toEqual([true]);
    } finally {
      await mock.removeRule(ruleId);
    }
  });

  it('delivers a fast stream whole: the deltas add up to the output', async () => {
    const marker = unique('fast');
    const content = `${marker} ${Array.from({ length: 200 }, (_, i) => `w${i}`).join(' ')}`;
    const name = await createPrompt(org.key, { template: content });
    const res = await streamRun(org.key, { promptName: name });

    expect(res.events.at(-1)!.event).toBe('done');
    expect(res.events.filter((e) => e.event === 'done')).toHaveLength(1);
    expect(deltasOf(res.events).join('')).toBe(`Echo: ${content}`);
    expect(res.events.at(-1)!.data.output).toBe(`Echo: ${content}`);
    expect(res.events.at(-1)!.data.usage).toMatchObject({ completionTokens: 202 });
  });

  it('ends a stream that breaks mid-way with one error event, never done, and records the partial usage', async () => {
    const marker = unique('break');
    const content = `${marker} one two three four five six seven`;
    const name = await createPrompt(org.key, { template: content, fallbackModels: ['mock-fast'] });
    const ruleId = await mock.addRule({
      match: { contains: marker },
      action: { type: 'break-stream', afterChunks: 3 },
    });
    try {
      const res = await streamRun(org.key, { promptName: name });

      expect(res.status).toBe(200);
      const runId = res.headers.get('x-run-id')!;
      // chunks that arrive within one NOTIFY round trip may share a delta event
      const kinds = res.events.map((e) => e.event);
      expect(kinds.at(-1)).toBe('error');
      expect(kinds.slice(0, -1).every((k) => k === 'delta')).toBe(true);
      expect(kinds.length).toBeGreaterThanOrEqual(2);
      expect(deltasOf(res.events).join('')).toBe(splitWordChunks(`Echo: ${content}`).slice(0, 3).join(''));
      expect(res.events.at(-1)!.data).toEqual({
        code: 'PROVIDER_ERROR',
        message: expect.stringMatching(/^The stream from model 'mock-1' broke after 3 chunks/),
        runId,
      });
      // no retry and no fallback once the client has seen part of an answer
      expect(await mock.calls({ contains: marker })).toHaveLength(1);

      const attempts = await attemptRows(runId);
      expect(attempts).toHaveLength(1);
      expect(attempts[0]).toMatchObject({
        status: 'failed',
        errorCode: 'STREAM_BROKEN',
        completionTokens: 3,
      });
      expect(attempts[0]!.promptTokens).toBeGreaterThan(0);
      expect(Number(attempts[0]!.cost)).toBeGreaterThan(0);
      expect(await runRow(runId)).toMatchObject({
        status: 'failed',
        errorCode: 'STREAM_BROKEN',
        completionTokens: 3,
      });
      expect(await runUsageRows(runId)).toEqual([
        { status: 'failed', promptTokens: attempts[0]!.promptTokens, completionTokens: 3 },
      ]);
    } finally {
      await mock.removeRule(ruleId);
    }
  });

  it('retries a provider failure that comes before the first delta', async () => {
    const marker = unique('retry');
    const name = await createPrompt(org.key, { template: `${marker} hello there` });
    const ruleId = await mock.addRule({
      match: { contains: marker },
      times: 1,
      action: { type: 'fail', status: 503 },
    });
    try {
      const res = await streamRun(org.key, { promptName: name });

      expect(res.events.at(-1)!.event).toBe('done');
      expect(res.events.slice(0, -1).every((e) => e.event === 'delta')).toBe(true);
      expect(deltasOf(res.events).join('')).toBe(`Echo: ${marker} hello there`);
      const runId = res.headers.get('x-run-id')!;
      expect((await attemptRows(runId)).map((a) => [a.status, a.errorCode])).toEqual([
        ['failed', 'PROVIDER_ERROR'],
        ['succeeded', null],
      ]);
      expect(res.events.at(-1)!.data.usage).toMatchObject({ completionTokens: 4 });
    } finally {
      await mock.removeRule(ruleId);
    }
  });

  it('sends an error event when every attempt fails before streaming', async () => {
    const marker = unique('fail');
    const name = await createPrompt(org.key, { template: `${marker} hi` });
    const ruleId = await mock.addRule({ match: { contains: marker }, action: { type: 'fail', status: 500 } });
    try {
      const res = await streamRun(org.key, { promptName: name });

      expect(res.status).toBe(200);
      expect(res.events.map((e) => e.event)).toEqual(['error']);
      expect(res.events[0]!.data).toMatchObject({
        code: 'PROVIDER_ERROR',
        runId: res.headers.get('x-run-id'),
      });
      expect(await mock.calls({ contains: marker })).toHaveLength(Number(E2E_ENV.PROVIDER_MAX_ATTEMPTS));
    } finally {
      await mock.removeRule(ruleId);
    }
  });

  it('answers errors found before the run starts as seed-shaped JSON, not as a stream', async () => {
    const missing = await streamRun(org.key, { promptName: unique('nope') });
    expect(missing.status).toBe(404);
    expect(missing.headers.get('content-type')).toMatch(/^application\/json/);
    expect(missing.json).toEqual({
      success: false,
      error: expect.stringMatching(/not found or has no PRODUCTION version$/),
      code: 'PROMPT_NOT_FOUND',
    });

    const name = await createPrompt(org.key, { template: 'Hi {{who}}' });
    const noVars = await streamRun(org.key, { promptName: name });
    expect(noVars.status).toBe(400);
    expect(noVars.json).toMatchObject({ success: false, code: 'MISSING_VARIABLES' });

    const unauthorized = await streamRun('pm_live_nope', { promptName: name });
    expect(unauthorized.status).toBe(401);
    expect(unauthorized.json).toMatchObject({ success: false, code: 'UNAUTHORIZED' });
  });

  it('cancels the run when the client disconnects, stopping the provider request at once', async () => {
    const marker = unique('gone');
    const words = Array.from({ length: 30 }, (_, i) => `word${i}`).join(' ');
    const name = await createPrompt(org.key, { template: `${marker} ${words}` });
    // 32 chunks × 300 ms ≈ 10 s if nobody stopped it
    const ruleId = await mock.addRule({
      match: { contains: marker },
      action: { type: 'delay', ms: 0, chunkDelayMs: 300 },
    });
    try {
      let runId = '';
      const res = await streamRun(
        org.key,
        { promptName: name },
        { onEvent: (e) => (e.event === 'delta' ? 'disconnect' : undefined) },
      );
      runId = res.headers.get('x-run-id')!;
      const disconnectedAt = Date.now();
      expect(res.events.map((e) => e.event)).toEqual(['delta']);

      // the provider request is stopped within moments: the attempt is recorded with what had streamed
      // (its row is opened, 'started', before the call: wait for it to be closed)
      const attempt = await waitFor(
        'the canceled attempt',
        async () => (await attemptRows(runId)).find((a) => a.status !== 'started'),
        5_000,
      );
      // (the workflow's cancellation alone would take up to one workflow-task heartbeat, ~2.4 s)
      expect(Date.now() - disconnectedAt).toBeLessThan(1_000);
      expect(attempt).toMatchObject({ status: 'failed', errorCode: 'RUN_CANCELED' });
      expect(attempt.completionTokens).toBeGreaterThanOrEqual(1);
      expect(attempt.completionTokens).toBeLessThanOrEqual(2);

      // the workflow's own cancellation lands at its next workflow-task heartbeat
      const run = await waitFor('the canceled run', async () => {
        const row = await runRow(runId);
        return row?.status === 'canceled' ? row : undefined;
      });
      expect(run).toMatchObject({ status: 'canceled', errorCode: 'RUN_CANCELED', output: null });
      expect(run.completionTokens).toBe(attempt.completionTokens);
      expect(await runUsageRows(runId)).toEqual([
        {
          status: 'canceled',
          promptTokens: attempt.promptTokens,
          completionTokens: attempt.completionTokens,
        },
      ]);
      expect(await mock.calls({ contains: marker })).toHaveLength(1);
    } finally {
      await mock.removeRule(ruleId);
    }
  });
});

describe('streaming through several api processes', () => {
  let second: ServiceProcess | undefined;
  let secondUrl = '';

  beforeAll(async () => {
    second = await startService({
      name: 'api-2',
      entry: 'api/src/main.ts',
      env: {
        ...process.env,
        ...E2E_ENV,
        DATABASE_URL: inject('databaseUrl'),
        TEMPORAL_ADDRESS: inject('temporalAddress'),
        PORT: '0',
        ADMIN_TOKEN: inject('adminToken'),
      },
      readyEvent: 'api.ready',
      log: () => {},
    });
    secondUrl = `http://127.0.0.1:${String(second.ready.port)}`;
  }, 60_000);
  afterAll(async () => {
    if (second) await stopChild(second.child, 10_000);
  });

  it('gives each client exactly its own run, whichever api process it talks to', async () => {
    const org = await createOrg();
    const markers = [unique('apiA'), unique('apiB'), unique('apiA'), unique('apiB')];
    const names = await Promise.all(
      markers.map((m, i) => createPrompt(org.key, { template: `${m} stream number ${i} says hello` })),
    );
    const ruleIds = await Promise.all(
      markers.map((m) =>
        mock.addRule({ match: { contains: m }, action: { type: 'delay', ms: 0, chunkDelayMs: 30 } }),
      ),
    );
    try {
      const results = await Promise.all(
        names.map((name, i) =>
          streamRun(org.key, { promptName: name }, { baseUrl: i % 2 === 0 ? apiUrl : secondUrl }),
        ),
      );
      results.forEach((res, i) => {
        const expected = `Echo: ${markers[i]} stream number ${i} says hello`;
        const deltas = deltasOf(res.events);
        expect(deltas.join('')).toBe(expected);
        expect(regroup(splitWordChunks(expected), deltas)).toEqual(deltas);
        expect(res.events.at(-1)).toMatchObject({ event: 'done', data: { output: expected } });
      });
    } finally {
      await Promise.all(ruleIds.map((id) => mock.removeRule(id)));
    }
  });
});
