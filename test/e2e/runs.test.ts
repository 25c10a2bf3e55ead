// GET /v1/runs: newest first, filters (status, prompt, from, to), pagination, visibility.
import { beforeAll, describe, expect, it } from 'vitest';
import { call, createOrg, createPrompt, mock, type TestOrg, unique } from './helpers.ts';
import { insertKey, pollRun, promptId, type RunBody, testSql } from './runs-support.ts';

const sql = testSql();

interface RunList {
  data: RunBody[];
  meta: { page: number; per_page: number; total: number };
}

describe('GET /v1/runs', () => {
  let org: TestOrg;
  let alpha: string;
  let beta: string;
  /** run ids in creation order */
  const ids: string[] = [];
  let failedId: string;

  beforeAll(async () => {
    org = await createOrg();
    alpha = await createPrompt(org.key, { template: 'alpha {{x}}' });
    const marker = unique('beta');
    beta = await createPrompt(org.key, { template: `${marker} {{x}}` });
    const rule = await mock.addRule({ match: { contains: marker }, action: { type: 'fail', status: 400 } });
    try {
      for (const [prompt, x] of [
        [alpha, '1'],
        [beta, '2'],
        [alpha, '3'],
        [alpha, '4'],
        [beta, '5'],
      ] as const) {
        const res = await call<{ data: { id: string } }>('POST', '/v1/runs', {
          key: org.key,
          body: { prompt, variables: { x } },
        });
        ids.push(res.body.data.id);
        await pollRun(org.key, res.body.data.id);
      }
    } finally {
      await mock.removeRule(rule);
    }
    failedId = ids[4]!;
    // one sync run too: every mode is listed
    const sync = await call<{ runId: string }>('POST', '/api/v1/run', {
      key: org.key,
      body: { promptName: alpha, variables: { x: '6' } },
    });
    ids.push(sync.body.runId);
  });

  const list = (query = '', key = org.key) => call<RunList>('GET', `/v1/runs${query}`, { key });

  it('lists the organization’s runs newest first with the pagination envelope', async () => {
    const res = await list();
    expect(res.status).toBe(200);
    expect(res.body.meta).toEqual({ page: 1, per_page: 20, total: 6 });
    expect(res.body.data.map((r) => r.id)).toEqual([...ids].reverse());
    expect(res.body.data[0]).toMatchObject({ mode: 'sync', status: 'succeeded', prompt: { name: alpha } });
    // the same resource as GET /v1/runs/:id
    const one = await call<{ data: RunBody }>('GET', `/v1/runs/${ids[2]}`, { key: org.key });
    expect(res.body.data.find((r) => r.id === ids[2])).toEqual(one.body.data);
  });

  it('paginates: per_page, page, past the end → [], per_page > 100 → 400', async () => {
    const p1 = await list('?per_page=4');
    expect(p1.body.meta).toEqual({ page: 1, per_page: 4, total: 6 });
    expect(p1.body.data.map((r) => r.id)).toEqual([...ids].reverse().slice(0, 4));
    const p2 = await list('?per_page=4&page=2');
    expect(p2.body.data.map((r) => r.id)).toEqual([...ids].reverse().slice(4));
    const past = await list('?per_page=4&page=9');
    expect(past.body).toEqual({ data: [], meta: { page: 9, per_page: 4, total: 6 } });
    const tooMany = await list('?per_page=101');
    expect(tooMany.status).toBe(400);
    expect(tooMany.body).toMatchObject({
      error: { code: 'VALIDATION_ERROR', details: [{ field: 'per_page' }] },
    });
  });

  it('filters by status', async () => {
    const failed = await list('?status=failed');
    expect(failed.body.meta.total).toBe(2);
    expect(failed.body.data.map((r) => r.id)).toEqual([failedId, ids[1]]);
    expect(failed.body.data.every((r) => r.error?.code === 'PROVIDER_ERROR')).toBe(true);
    expect((await list('?status=succeeded')).body.meta.total).toBe(4);
    expect((await list('?status=queued')).body.meta.total).toBe(0);
    const bad = await list('?status=done');
    expect(bad.status).toBe(400);
    expect(bad.body).toMatchObject({ error: { code: 'VALIDATION_ERROR', details: [{ field: 'status' }] } });
  });

  it('filters by prompt id or name, combined with status', async () => {
    const byName = await list(`?prompt=${encodeURIComponent(alpha)}`);
    expect(byName.body.data.map((r) => r.id)).toEqual([ids[5], ids[3], ids[2], ids[0]]);
    const byId = await list(`?prompt=${await promptId(org.key, beta)}`);
    expect(byId.body.data.map((r) => r.id)).toEqual([ids[4], ids[1]]);
    const both = await list(`?prompt=${encodeURIComponent(beta)}&status=succeeded`);
    expect(both.body.meta.total).toBe(0);
    const unknown = await list('?prompt=no-such-prompt');
    expect(unknown.body).toEqual({ data: [], meta: { page: 1, per_page: 20, total: 0 } });
  });

  it('filters by creation time: from (inclusive) and to (exclusive), ISO-8601', async () => {
    const rows = await sql<{ id: string; created_at: Date }[]>`
      SELECT id, created_at FROM runs WHERE org_id = ${org.orgId} ORDER BY created_at`;
    const third = rows[2]!.created_at.toISOString();
    const from = await list(`?from=${encodeURIComponent(third)}`);
    expect(from.body.data.map((r) => r.id)).toEqual(
      rows
        .slice(2)
        .map((r) => r.id)
        .reverse(),
    );
    const to = await list(`?to=${encodeURIComponent(third)}`);
    expect(to.body.data.map((r) => r.id)).toEqual(
      rows
        .slice(0, 2)
        .map((r) => r.id)
        .reverse(),
    );
    const window = await list(
      `?from=${encodeURIComponent(rows[1]!.created_at.toISOString())}&to=${encodeURIComponent(third)}`,
    );
    expect(window.body.data.map((r) => r.id)).toEqual([rows[1]!.id]);
    const future = await list('?from=2999-01-01T00:00:00Z');
    expect(future.body.meta.total).toBe(0);
    const withOffset = await list('?to=2999-01-01T00:00:00%2B02:00');
    expect(withOffset.body.meta.total).toBe(6);
    const bad = await list('?from=yesterday');
    expect(bad.status).toBe(400);
    expect(bad.body).toMatchObject({ error: { code: 'VALIDATION_ERROR', details: [{ field: 'from' }] } });
  });

  it('shows nothing of other organizations; a prompt-restricted key sees only its prompts’ runs', async () => {
    const other = await createOrg();
    expect((await list('', other.key)).body.meta.total).toBe(0);

    const restricted = await insertKey(sql, org.orgId, {
      scopes: ['runs:read'],
      promptIds: [await promptId(org.key, beta)],
    });
    const res = await list('', restricted);
    expect(res.body.data.map((r) => r.id)).toEqual([ids[4], ids[1]]);
    const denied = await call('GET', `/v1/runs/${ids[0]}`, { key: restricted });
    expect(denied.status).toBe(403);
    expect(denied.body).toMatchObject({ error: { code: 'FORBIDDEN' } });
  });

  it('is documented in the OpenAPI document with the run routes', async () => {
    const doc = await call<{ paths: Record<string, Record<string, unknown>> }>('GET', '/openapi.json');
    expect(Object.keys(doc.body.paths['/v1/runs'] ?? {}).sort()).toEqual(['get', 'post']);
    expect(doc.body.paths['/v1/runs/{id}']).toHaveProperty('get');
    expect(doc.body.paths['/v1/runs/{id}/cancel']).toHaveProperty('post');
    expect(doc.body.paths['/v1/agents/{promptId}/execute']).toHaveProperty('post');
    expect(doc.body.paths['/api/v1/run']).toHaveProperty('post');
  });
});
