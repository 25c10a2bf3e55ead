// Identical-request cache for versions with cacheTtlSeconds: X-Cache: HIT|MISS, hits cost nothing.
import { beforeAll, describe, expect, it } from 'vitest';
import { call, createOrg, createPrompt, mock, type TestOrg, unique } from './helpers.ts';
import { type RunBody, type SyncOk, testSql } from './runs-support.ts';

const sql = testSql();

describe('identical-request cache', () => {
  let org: TestOrg;

  beforeAll(async () => {
    org = await createOrg();
  });

  const run = (promptName: string, variables: Record<string, unknown>) =>
    call<SyncOk>('POST', '/api/v1/run', { key: org.key, body: { promptName, variables } });

  it('the first request is a MISS, an identical one a HIT from the cache with zero usage', async () => {
    const marker = unique('cache');
    const name = await createPrompt(org.key, { template: `${marker} {{a}} {{b}}`, cacheTtlSeconds: 300 });

    const miss = await run(name, { a: '1', b: '2' });
    expect(miss.status).toBe(200);
    expect(miss.headers.get('x-cache')).toBe('MISS');
    expect(miss.body.usage.totalTokens).toBeGreaterThan(0);

    // same variables in another key order
    const hit = await run(name, { b: '2', a: '1' });
    expect(hit.status).toBe(200);
    expect(hit.headers.get('x-cache')).toBe('HIT');
    expect(hit.body).toMatchObject({
      success: true,
      output: miss.body.output,
      model: 'mock-1',
      promptVersion: 1,
      usage: { promptTokens: 0, completionTokens: 0, totalTokens: 0, cost: 0 },
    });
    expect(hit.body.runId).not.toBe(miss.body.runId);
    expect(await mock.calls({ contains: marker })).toHaveLength(1);

    // the hit is a run of its own, recorded in usage at zero cost
    const [runRow] = await sql`
      SELECT status, cache_hit, output, attempts, prompt_tokens, cost FROM runs WHERE id = ${hit.body.runId}`;
    expect(runRow).toEqual({
      status: 'succeeded',
      cache_hit: true,
      output: miss.body.output,
      attempts: 0,
      prompt_tokens: 0,
      cost: '0.000000000',
    });
    const usage = await sql`
      SELECT kind, status, cache_hit, prompt_tokens, completion_tokens, cost FROM usage_events WHERE run_id = ${hit.body.runId}`;
    expect(usage).toEqual([
      {
        kind: 'run',
        status: 'succeeded',
        cache_hit: true,
        prompt_tokens: 0,
        completion_tokens: 0,
        cost: '0.000000000',
      },
    ]);
    const get = await call<{ data: RunBody }>('GET', `/v1/runs/${hit.body.runId}`, { key: org.key });
    expect(get.body.data).toMatchObject({
      status: 'succeeded',
      cacheHit: true,
      attempts: 0,
      output: miss.body.output,
    });
  });

  it('other variables are a MISS; a version without cacheTtlSeconds never caches (no X-Cache)', async () => {
    const marker = unique('cache-vars');
    const name = await createPrompt(org.key, { template: `${marker} {{a}}`, cacheTtlSeconds: 300 });
    expect((await run(name, { a: '1' })).headers.get('x-cache')).toBe('MISS');
    expect((await run(name, { a: '2' })).headers.get('x-cache')).toBe('MISS');
    expect((await run(name, { a: '1' })).headers.get('x-cache')).toBe('HIT');

    const plain = unique('no-cache');
    const other = await createPrompt(org.key, { template: `${plain} {{a}}` });
    for (let i = 0; i < 2; i++) expect((await run(other, { a: '1' })).headers.get('x-cache')).toBeNull();
    expect(await mock.calls({ contains: plain })).toHaveLength(2);
  });

  it('an expired entry is a MISS and is refreshed', async () => {
    const marker = unique('cache-ttl');
    const name = await createPrompt(org.key, { template: `${marker} {{a}}`, cacheTtlSeconds: 60 });
    const first = await run(name, { a: '1' });
    await sql`UPDATE run_cache SET expires_at = now() - interval '1 second' WHERE run_id = ${first.body.runId}`;
    const second = await run(name, { a: '1' });
    expect(second.headers.get('x-cache')).toBe('MISS');
    expect((await run(name, { a: '1' })).headers.get('x-cache')).toBe('HIT');
    expect(await mock.calls({ contains: marker })).toHaveLength(2);
    const [entry] =
      await sql`SELECT run_id, expires_at > now() + interval '50 seconds' AS fresh FROM run_cache
                               WHERE run_id = ${second.body.runId}`;
    expect(entry).toEqual({ run_id: second.body.runId, fresh: true });
  });

  it('failed runs are not cached', async () => {
    const marker = unique('cache-fail');
    const name = await createPrompt(org.key, { template: `${marker} {{a}}`, cacheTtlSeconds: 300 });
    const rule = await mock.addRule({
      match: { contains: marker },
      times: 3,
      action: { type: 'fail', status: 500 },
    });
    try {
      expect((await run(name, { a: '1' })).status).toBe(502);
    } finally {
      await mock.removeRule(rule);
    }
    const retry = await run(name, { a: '1' });
    expect(retry.status).toBe(200);
    expect(retry.headers.get('x-cache')).toBe('MISS');
  });

  it('a new version does not reuse the old version’s entries', async () => {
    const marker = unique('cache-version');
    const name = await createPrompt(org.key, { template: `${marker} {{a}}`, cacheTtlSeconds: 300 });
    await run(name, { a: '1' });
    await call('POST', `/v1/prompts/${name}/versions`, {
      key: org.key,
      body: { template: `${marker} v2 {{a}}`, model: 'mock-1', cacheTtlSeconds: 300, labels: ['production'] },
    });
    const res = await run(name, { a: '1' });
    expect(res.headers.get('x-cache')).toBe('MISS');
    expect(res.body.output).toBe(`Echo: ${marker} v2 1`);
  });

  it('async runs use the cache too: a hit is already succeeded', async () => {
    const marker = unique('cache-async');
    const name = await createPrompt(org.key, { template: `${marker} {{a}}`, cacheTtlSeconds: 300 });
    const miss = await call<{ data: RunBody }>('POST', '/v1/runs', {
      key: org.key,
      headers: { prefer: 'wait=10' },
      body: { prompt: name, variables: { a: '1' } },
    });
    expect(miss.status).toBe(200);
    expect(miss.headers.get('x-cache')).toBe('MISS');
    const hit = await call<{ data: { id: string; status: string } }>('POST', '/v1/runs', {
      key: org.key,
      body: { prompt: name, variables: { a: '1' } },
    });
    expect(hit.status).toBe(202);
    expect(hit.headers.get('x-cache')).toBe('HIT');
    expect(hit.body.data.status).toBe('succeeded');
    const get = await call<{ data: RunBody }>('GET', `/v1/runs/${hit.body.data.id}`, { key: org.key });
    expect(get.body.data).toMatchObject({
      status: 'succeeded',
      cacheHit: true,
      output: miss.body.data.output,
      usage: { totalTokens: 0, cost: 0 },
      mode: 'async',
    });
    // and the sync route hits what the async run cached
    const sync = await run(name, { a: '1' });
    expect(sync.headers.get('x-cache')).toBe('HIT');
    expect(await mock.calls({ contains: marker })).toHaveLength(1);
  });
});
