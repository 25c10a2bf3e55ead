// SDK runs against the real stack: sync, streaming (with a mid-stream error), async start / wait /
// cancel, retries through the api on the mock provider's 429s, an idempotent start under a lost
// answer, timeouts and AbortSignal, and the key fallback list.
import { beforeAll, describe, expect, it } from 'vitest';
import {
  APITimeoutError,
  APIUserAbortError,
  type FetchLike,
  InternalServerError,
  type Promptmill,
  RateLimitError,
  RunStreamError,
} from '../../sdk/src/index.ts';
import { createOrg, createPrompt, mock, type TestOrg, unique } from './helpers.ts';
import { testSql } from './runs-support.ts';
import { sdk } from './sdk-support.ts';

const sql = testSql();
let org: TestOrg;
let pm: Promptmill;

beforeAll(async () => {
  org = await createOrg({ plan: 'enterprise' });
  pm = sdk(org.key);
});

describe('SDK: sync and streaming runs', () => {
  it('run() answers with the output and usage; executeAgent runs by prompt id', async () => {
    const name = await createPrompt(org.key, { template: 'Say {{word}}' });
    const result = await pm.run(name, { word: 'hello' });
    expect(result).toMatchObject({
      success: true,
      output: 'Echo: Say hello',
      model: 'mock-1',
      promptVersion: 1,
    });
    expect(result.usage.totalTokens).toBeGreaterThan(0);
    const { id } = await pm.prompts.get(name);
    expect((await pm.executeAgent(id, { word: 'x' })).output).toBe('Echo: Say x');
    await expect(pm.run(name, {})).rejects.toMatchObject({ status: 400, code: 'MISSING_VARIABLES' });
  });

  it('stream() yields the deltas, then the done event with usage', async () => {
    const name = await createPrompt(org.key, { template: 'one two three four {{x}}' });
    const stream = await pm.stream(name, { x: 'five' });
    expect(stream.runId).toMatch(/^run_/);
    const deltas: string[] = [];
    for await (const d of stream) deltas.push(d);
    expect(deltas.join('')).toBe('Echo: one two three four five');
    expect(stream.result).toMatchObject({ runId: stream.runId, output: 'Echo: one two three four five' });
    expect(stream.result!.usage.completionTokens).toBeGreaterThan(0);
  });

  it('a stream that breaks mid-way throws RunStreamError after the deltas it delivered', async () => {
    const marker = unique('sdk-break');
    const name = await createPrompt(org.key, { template: `${marker} a b c d e f g` });
    const rule = await mock.addRule({
      match: { contains: marker },
      action: { type: 'break-stream', afterChunks: 3 },
    });
    try {
      const stream = await pm.stream(name);
      const deltas: string[] = [];
      const error = await (async () => {
        for await (const d of stream) deltas.push(d);
      })().catch((e: unknown) => e);
      expect(error).toBeInstanceOf(RunStreamError);
      expect(error).toMatchObject({ code: 'PROVIDER_ERROR', runId: stream.runId });
      expect((error as Error).message).toMatch(/broke after 3 chunks/);
      expect(deltas.join('').length).toBeGreaterThan(0);
      expect(stream.result).toBeUndefined();
    } finally {
      await mock.removeRule(rule);
    }
  });
});

describe('SDK: async runs', () => {
  it('start → get → wait (long-poll through the Idempotency-Key) → list', async () => {
    const marker = unique('slow');
    const name = await createPrompt(org.key, { template: `${marker} {{x}}` });
    const rule = await mock.addRule({ match: { contains: marker }, action: { type: 'delay', ms: 1500 } });
    try {
      const started = await pm.runs.start({ prompt: name, variables: { x: 'y' }, metadata: { order: 1 } });
      expect(started).toMatchObject({
        id: expect.stringMatching(/^run_/),
        status: 'queued',
        run: null,
        replayed: false,
      });
      expect((await pm.runs.get(started.id)).status).toMatch(/queued|running/);
      const done = await pm.runs.wait(started);
      expect(done).toMatchObject({
        id: started.id,
        status: 'succeeded',
        output: `Echo: ${marker} y`,
        metadata: { order: 1 },
      });
      // the long-poll replays the start: still one run
      const [row] = await sql<
        { n: number }[]
      >`SELECT count(*)::int AS n FROM runs WHERE org_id = ${org.orgId} AND prompt_id = (SELECT id FROM prompts WHERE org_id = ${org.orgId} AND name = ${name})`;
      expect(row?.n).toBe(1);
      expect((await pm.runs.list({ prompt: name })).data.map((r) => r.id)).toEqual([started.id]);
      expect((await pm.runs.wait(started.id)).status).toBe('succeeded');
    } finally {
      await mock.removeRule(rule);
    }
  });

  it('createAndWait answers within the Prefer: wait window; cancel ends a running run', async () => {
    const name = await createPrompt(org.key, { template: 'quick' });
    expect(await pm.runs.createAndWait({ prompt: name })).toMatchObject({
      status: 'succeeded',
      output: 'Echo: quick',
    });

    const marker = unique('hang');
    const slow = await createPrompt(org.key, { template: `${marker}` });
    const rule = await mock.addRule({ match: { contains: marker }, action: { type: 'delay', ms: 20_000 } });
    try {
      const started = await pm.runs.start({ prompt: slow });
      await pm.runs.cancel(started.id);
      expect((await pm.runs.wait(started.id)).status).toBe('canceled');
      await expect(pm.runs.cancel(started.id)).rejects.toMatchObject({ status: 409, code: 'INVALID_STATE' });
    } finally {
      await mock.removeRule(rule);
    }
  });

  it('a start whose answer is lost is retried with the same Idempotency-Key: one run', async () => {
    const name = await createPrompt(org.key, { template: 'once {{n}}' });
    const sent: Array<string | null> = [];
    let dropped = false;
    // the request reaches the api and is processed; the answer is dropped, as by a connection reset
    const lossy: FetchLike = async (url, init) => {
      const res = await fetch(url, init);
      if (url.endsWith('/v1/runs') && init.method === 'POST') {
        sent.push(new Headers(init.headers).get('idempotency-key'));
        if (!dropped) {
          dropped = true;
          await res.body?.cancel();
          throw new TypeError('fetch failed: socket hang up');
        }
      }
      return res;
    };
    const started = await sdk(org.key, { fetch: lossy }).runs.start({ prompt: name, variables: { n: '1' } });
    expect(sent).toHaveLength(2);
    expect(sent[0]).toMatch(/^pm-sdk-/);
    expect(sent[1]).toBe(sent[0]);
    expect(started.replayed).toBe(true);
    const runs = await pm.runs.list({ prompt: name });
    expect(runs.meta.total).toBe(1);
    expect(runs.data[0]!.id).toBe(started.id);
  });
});

describe('SDK: retries, timeouts, abort, key fallback', () => {
  it('retries a run the provider rate-limited (429 through the api) until it succeeds', async () => {
    const marker = unique('p429');
    const name = await createPrompt(org.key, { template: `${marker}` });
    // the worker tries 3 times per run (PROVIDER_MAX_ATTEMPTS in the e2e stack): the first run fails with
    // 502 PROVIDER_ERROR, the SDK's retry is a second run that gets through
    const rule = await mock.addRule({
      match: { contains: marker },
      times: 3,
      action: { type: 'fail', status: 429, retryAfterSeconds: 0 },
    });
    try {
      const result = await pm.run(name, {}, { maxRetries: 2 });
      expect(result.output).toBe(`Echo: ${marker}`);
      expect(await mock.calls({ contains: marker })).toHaveLength(4);
      const failed = await pm.runs.list({ prompt: name, status: 'failed' });
      expect(failed.data).toHaveLength(1);
      expect(failed.data[0]!.error?.message).toMatch(/rate limited by its provider \(HTTP 429\)/);
    } finally {
      await mock.removeRule(rule);
    }
    const again = await mock.addRule({
      match: { contains: marker },
      times: 3,
      action: { type: 'fail', status: 429 },
    });
    try {
      const err = await pm.run(name, {}, { maxRetries: 0 }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(InternalServerError);
      expect(err).toMatchObject({ status: 502, code: 'PROVIDER_ERROR', requestId: expect.any(String) });
    } finally {
      await mock.removeRule(again);
    }
  });

  it('times out per attempt, and stops at once when the caller aborts', async () => {
    const marker = unique('late');
    const name = await createPrompt(org.key, { template: `${marker}` });
    const rule = await mock.addRule({ match: { contains: marker }, action: { type: 'delay', ms: 5000 } });
    try {
      const t0 = Date.now();
      await expect(pm.run(name, {}, { timeoutMs: 300, maxRetries: 1 })).rejects.toBeInstanceOf(
        APITimeoutError,
      );
      expect(Date.now() - t0).toBeLessThan(3000);
      const ac = new AbortController();
      setTimeout(() => ac.abort(), 200);
      await expect(pm.run(name, {}, { signal: ac.signal })).rejects.toBeInstanceOf(APIUserAbortError);
    } finally {
      await mock.removeRule(rule);
    }
  });

  it('falls back to the next key when one is revoked or rate limited', async () => {
    const revoked = await pm.keys.create({ name: 'to revoke' });
    await pm.keys.revoke(revoked.id);
    const limited = await pm.keys.create({ name: 'limited', rateLimits: { perMinute: 1 } });
    const spare = await pm.keys.create({ name: 'spare' });

    const client = sdk([revoked.key, limited.key, spare.key], { maxRetries: 3 });
    const first = await client.me();
    expect(first.key.id).toBe(limited.id); // the revoked key handed over
    const second = await client.me();
    expect(second.key.id).toBe(spare.id); // the limited key's window is spent

    // one key, over its limit, with a retry budget too short for its Retry-After: RateLimitError
    const alone = sdk(limited.key, { maxRetries: 2, maxRetryDelayMs: 500 });
    const err = await alone.me().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RateLimitError);
    expect(err).toMatchObject({ status: 429, code: 'RATE_LIMITED', retryAfter: expect.any(Number) });
    expect((err as RateLimitError).retryAfter).toBeGreaterThan(0);
  });
});
