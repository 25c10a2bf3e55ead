import { beforeAll, describe, expect, it } from 'vitest';
import { call, createOrg, createPrompt, mock, type TestOrg, unique } from './helpers.ts';
import { pollRun, type RunBody, testSql } from './runs-support.ts';

const sql = testSql();

interface Accepted {
  data: { id: string; status: string };
}

describe('Idempotency-Key on POST /v1/runs', () => {
  let org: TestOrg;
  let name: string;
  let marker: string;

  beforeAll(async () => {
    org = await createOrg();
    marker = unique('idem');
    name = await createPrompt(org.key, { template: `${marker} {{x}}` });
  });

  const post = (key: string, body: Record<string, unknown>, headers: Record<string, string> = {}) =>
    call<Accepted>('POST', '/v1/runs', {
      key: org.key,
      body,
      headers: { 'idempotency-key': key, ...headers },
    });

  it('the same key and body → the same run (202 again, Idempotent-Replayed); one model call', async () => {
    const key = unique('k');
    const first = await post(key, { prompt: name, variables: { x: 'same' }, metadata: { a: 1, b: [1, 2] } });
    expect(first.status).toBe(202);
    expect(first.headers.get('idempotent-replayed')).toBeNull();
    await pollRun(org.key, first.body.data.id);

    // same body, other key order: still the same request
    const second = await post(key, { metadata: { b: [1, 2], a: 1 }, variables: { x: 'same' }, prompt: name });
    expect(second.status).toBe(202);
    expect(second.headers.get('idempotent-replayed')).toBe('true');
    expect(second.headers.get('location')).toBe(`/v1/runs/${first.body.data.id}`);
    expect(second.body.data).toMatchObject({ id: first.body.data.id, status: 'succeeded' });

    const rows = await sql`SELECT id FROM runs WHERE org_id = ${org.orgId} AND idempotency_key = ${key}`;
    expect(rows).toHaveLength(1);
    expect(await mock.calls({ contains: `${marker} same` })).toHaveLength(1);
  });

  it('the same key with another body → 409 IDEMPOTENCY_CONFLICT, and no new run', async () => {
    const key = unique('k');
    const first = await post(key, { prompt: name, variables: { x: 'one' } });
    expect(first.status).toBe(202);
    const conflict = await post(key, { prompt: name, variables: { x: 'two' } });
    expect(conflict.status).toBe(409);
    expect(conflict.body).toEqual({
      error: {
        code: 'IDEMPOTENCY_CONFLICT',
        message: 'This Idempotency-Key was already used with a different request body',
      },
    });
    const rows =
      await sql`SELECT count(*)::int AS n FROM runs WHERE org_id = ${org.orgId} AND variables->>'x' = 'two'`;
    expect(rows[0]?.n).toBe(0);
  });

  it('keys are per organization', async () => {
    const key = unique('k');
    const mine = await post(key, { prompt: name, variables: { x: 'org' } });
    const other = await createOrg();
    const otherName = await createPrompt(other.key, { template: 'other {{x}}' });
    const theirs = await call<Accepted>('POST', '/v1/runs', {
      key: other.key,
      body: { prompt: otherName, variables: { x: 'org' } },
      headers: { 'idempotency-key': key },
    });
    expect(theirs.status).toBe(202);
    expect(theirs.body.data.id).not.toBe(mine.body.data.id);
  });

  it('concurrent identical requests make exactly one run and all answer with it', async () => {
    const key = unique('k');
    const body = { prompt: name, variables: { x: 'race' } };
    const results = await Promise.all(Array.from({ length: 8 }, () => post(key, body)));
    expect(results.map((r) => r.status)).toEqual(Array(8).fill(202));
    const ids = new Set(results.map((r) => r.body.data.id));
    expect(ids.size).toBe(1);
    const [id] = [...ids];
    expect(results.filter((r) => r.headers.get('idempotent-replayed') === 'true')).toHaveLength(7);
    const run = await pollRun(org.key, id!);
    expect(run.status).toBe('succeeded');
    const rows = await sql`SELECT id FROM runs WHERE org_id = ${org.orgId} AND idempotency_key = ${key}`;
    expect(rows).toEqual([{ id }]);
    expect(await mock.calls({ contains: `${marker} race` })).toHaveLength(1);
  });

  it('concurrent requests with one key and different bodies: one run, the others 409', async () => {
    const key = unique('k');
    const results = await Promise.all(
      Array.from({ length: 6 }, (_, i) => post(key, { prompt: name, variables: { x: `body-${i}` } })),
    );
    expect(results.filter((r) => r.status === 202)).toHaveLength(1);
    expect(results.filter((r) => r.status === 409)).toHaveLength(5);
    const rows = await sql`SELECT id FROM runs WHERE org_id = ${org.orgId} AND idempotency_key = ${key}`;
    expect(rows).toHaveLength(1);
  });

  it('with Prefer: wait, the replay answers 200 with the finished run', async () => {
    const key = unique('k');
    const first = await post(key, { prompt: name, variables: { x: 'wait' } }, { prefer: 'wait=10' });
    expect(first.status).toBe(200);
    const replay = await call<{ data: RunBody }>('POST', '/v1/runs', {
      key: org.key,
      body: { prompt: name, variables: { x: 'wait' } },
      headers: { 'idempotency-key': key, prefer: 'wait=10' },
    });
    expect(replay.status).toBe(200);
    expect(replay.headers.get('idempotent-replayed')).toBe('true');
    expect(replay.body.data).toMatchObject({
      id: first.body.data.id,
      status: 'succeeded',
      output: `Echo: ${marker} wait`,
    });
  });

  it('a key older than 24 h is free again: a new run, even with another body', async () => {
    const key = unique('k');
    const old = await post(key, { prompt: name, variables: { x: 'old' } });
    await pollRun(org.key, old.body.data.id);
    await sql`UPDATE runs SET created_at = now() - interval '25 hours' WHERE id = ${old.body.data.id}`;

    const fresh = await post(key, { prompt: name, variables: { x: 'new' } });
    expect(fresh.status).toBe(202);
    expect(fresh.body.data.id).not.toBe(old.body.data.id);
    expect(fresh.headers.get('idempotent-replayed')).toBeNull();
    const rows = await sql`SELECT id FROM runs WHERE org_id = ${org.orgId} AND idempotency_key = ${key}`;
    expect(rows).toEqual([{ id: fresh.body.data.id }]);
    // the old run is kept, only its key was released
    expect((await call('GET', `/v1/runs/${old.body.data.id}`, { key: org.key })).status).toBe(200);
  });

  it('a key of 256 characters or an empty one is 400 VALIDATION_ERROR naming the header', async () => {
    for (const key of ['x'.repeat(256), '']) {
      const res = await post(key, { prompt: name, variables: { x: 'v' } });
      expect(res.status).toBe(400);
      expect(res.body).toMatchObject({
        error: { code: 'VALIDATION_ERROR', details: [{ field: 'Idempotency-Key' }] },
      });
    }
    expect((await post('x'.repeat(255), { prompt: name, variables: { x: 'v' } })).status).toBe(202);
  });

  it('a request refused before a run exists (404, 400) does not use up the key', async () => {
    const key = unique('k');
    expect((await post(key, { prompt: 'no-such-prompt' })).status).toBe(404);
    expect((await post(key, { prompt: name })).status).toBe(400);
    const ok = await post(key, { prompt: name, variables: { x: 'after' } });
    expect(ok.status).toBe(202);
  });
});
