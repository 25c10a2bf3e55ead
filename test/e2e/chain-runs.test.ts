// Chain runs (`POST /v1/workflows/:id/runs`, `/v1/workflow-runs`): parallel steps (proved by the
// mock provider's call log), `.json.<path>`, onError fail/continue, cancel mid-chain, idempotency,
// budgets before each step, rate limits (a chain run is one request), scopes, tenant isolation,
// and the `workflow.*` event written with the chain's end.
import { Client, Connection } from '@temporalio/client';
import { beforeAll, describe, expect, inject, it } from 'vitest';
import { call, createOrg, createPrompt, mock, type TestOrg, unique } from './helpers.ts';
import { createKey } from './limits-support.ts';
import { insertKey, promptId, type RunBody, testSql } from './runs-support.ts';

const sql = testSql();

interface Usage {
  promptTokens: number;
  completionTokens: number;
  totalTokens: number;
  cost: number;
}
interface StepBody {
  id: string;
  status: string;
  runId: string | null;
  output: string | null;
  error: { code: string; message: string } | null;
  usage: Usage;
  attempts: number;
  timings: { startedAt: string | null; finishedAt: string | null };
}
interface ChainRunBody {
  id: string;
  status: string;
  output: string | null;
  error: { code: string; message: string } | null;
  usage: Usage;
  attempts: number;
  steps: StepBody[];
  workflow: { id: string; name: string; revision: number };
}
interface ErrorBody {
  error: { code: string; message: string };
}

let org: TestOrg;

beforeAll(async () => {
  org = await createOrg({ plan: 'enterprise' });
});

async function defineChain(key: string, body: Record<string, unknown>): Promise<string> {
  const res = await call<{ data: { id: string } }>('POST', '/v1/workflows', {
    key,
    body: { name: unique('chain'), ...body },
  });
  if (res.status !== 201) throw new Error(`define: ${res.status} ${res.text}`);
  return res.body.data.id;
}

async function startRun(key: string, chainId: string, body: Record<string, unknown> = {}, headers = {}) {
  return call<{ data: ChainRunBody }>('POST', `/v1/workflows/${chainId}/runs`, { key, body, headers });
}

async function pollChainRun(
  key: string,
  id: string,
  until = (r: ChainRunBody) => isEnded(r.status),
  timeoutMs = 30_000,
) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const res = await call<{ data: ChainRunBody }>('GET', `/v1/workflow-runs/${id}`, { key });
    if (res.status !== 200) throw new Error(`GET chain run: ${res.status} ${res.text}`);
    if (until(res.body.data)) return res.body.data;
    if (Date.now() > deadline) throw new Error(`chain run ${id} stayed ${res.body.data.status}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
const isEnded = (s: string) => ['succeeded', 'failed', 'canceled'].includes(s);
const sum = (xs: Usage[]) => xs.reduce((n, u) => n + u.totalTokens, 0);

async function eventsOf(chainRunId: string) {
  return sql<{ type: string; payload: Record<string, unknown> }[]>`
    SELECT type, payload FROM events WHERE payload->>'workflow_run_id' = ${chainRunId}`;
}

describe('a chain run', () => {
  it('runs independent steps in parallel (provider call log), then the step that needs both', async () => {
    const m = unique('par');
    const p = await createPrompt(org.key, { template: `${m} {{part}} about {{topic}}` });
    const join = await createPrompt(org.key, { template: `${m} join: {{a}} + {{b}}` });
    for (const part of ['alpha', 'beta']) {
      await mock.addRule({
        match: { contains: `${m} ${part}` },
        times: 1,
        action: { type: 'delay', ms: 1_500 },
      });
    }
    const chainId = await defineChain(org.key, {
      input: [{ name: 'topic' }],
      steps: [
        { id: 'one', prompt: p, variables: { part: 'alpha', topic: '{{input.topic}}' } },
        { id: 'two', prompt: p, variables: { part: 'beta', topic: '{{input.topic}}' } },
        {
          id: 'three',
          prompt: join,
          dependsOn: ['one', 'two'],
          variables: { a: '{{steps.one.output}}', b: '{{steps.two.output}}' },
        },
      ],
    });
    const res = await startRun(org.key, chainId, { input: { topic: 'owls' } }, { prefer: 'wait=30' });
    expect(res.status).toBe(200);
    expect(res.headers.get('location')).toBe(`/v1/workflow-runs/${res.body.data.id}`);
    const run = res.body.data;
    expect(run.id).toMatch(/^wfr_/);
    expect(run.status).toBe('succeeded');
    const [one, two, three] = run.steps;
    expect(two!.output).toBe(`Echo: ${m} beta about owls`);
    expect(run.steps.map((s) => [s.id, s.status])).toEqual([
      ['one', 'succeeded'],
      ['two', 'succeeded'],
      ['three', 'succeeded'],
    ]);
    expect(one!.output).toBe(`Echo: ${m} alpha about owls`);
    expect(three!.output).toBe(`Echo: ${m} join: Echo: ${m} alpha about owls + Echo: ${m} beta about owls`);
    expect(run.output).toBe(three!.output);

    // the provider saw both first calls before either could have been answered (each takes 1.5 s)
    const [callA] = await mock.calls({ contains: `${m} alpha` });
    const [callB] = await mock.calls({ contains: `${m} beta` });
    const [callJoin] = await mock.calls({ contains: `${m} join` });
    expect(Math.abs(callA!.at - callB!.at)).toBeLessThan(1_500);
    expect(callJoin!.at).toBeGreaterThanOrEqual(Math.max(callA!.at, callB!.at) + 1_500);

    // totals are the steps' sums; each step is a run of its own, listed with its chain run
    expect(run.usage.totalTokens).toBe(sum(run.steps.map((s) => s.usage)));
    expect(run.usage.totalTokens).toBeGreaterThan(0);
    expect(run.attempts).toBe(3);
    for (const step of run.steps) {
      const r = await call<{ data: RunBody & { chainRunId: string } }>('GET', `/v1/runs/${step.runId}`, {
        key: org.key,
      });
      expect(r.body.data).toMatchObject({ status: 'succeeded', chainRunId: run.id, output: step.output });
      expect(r.body.data.usage).toEqual(step.usage);
    }
    const listed = await call<{ data: { id: string; chainRunId: string | null }[] }>(
      'GET',
      '/v1/runs?per_page=100',
      {
        key: org.key,
      },
    );
    expect(listed.body.data.filter((r) => r.chainRunId === run.id)).toHaveLength(3);
    const filtered = await call<{ data: { id: string }[]; meta: { total: number } }>(
      'GET',
      `/v1/runs?chainRun=${run.id}`,
      { key: org.key },
    );
    expect(filtered.body.meta.total).toBe(3);
    expect(filtered.body.data.map((r) => r.id).sort()).toEqual(run.steps.map((s) => s.runId).sort());

    const events = await eventsOf(run.id);
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({
      type: 'workflow.completed',
      payload: {
        workflow_run_id: run.id,
        workflow_id: chainId,
        status: 'succeeded',
        tokens_used: run.usage.totalTokens,
      },
    });
  });

  it('reads a step output as JSON with .json.<path>; a non-JSON output fails that step with INVALID_STEP_OUTPUT', async () => {
    const m = unique('json');
    const src = await createPrompt(org.key, { template: `${m} give json {{n}}` });
    const use = await createPrompt(org.key, { template: `${m} city={{city}} first={{first}}` });
    await mock.addRule({
      match: { contains: `${m} give json 1` },
      action: { type: 'reply', content: '{"city":{"name":"Paris"},"tags":["x","y"]}' },
    });
    const chainId = await defineChain(org.key, {
      input: [{ name: 'n' }],
      steps: [
        { id: 'src', prompt: src, variables: { n: '{{input.n}}' } },
        {
          id: 'use',
          prompt: use,
          dependsOn: ['src'],
          variables: { city: '{{steps.src.json.city.name}}', first: 'tag {{steps.src.json.tags.0}}' },
        },
      ],
    });
    const ok = await startRun(org.key, chainId, { input: { n: '1' } }, { prefer: 'wait=30' });
    expect(ok.body.data.status).toBe('succeeded');
    expect(ok.body.data.output).toBe(`Echo: ${m} city=Paris first=tag x`);

    // the mock echoes (not JSON): the producing step fails, the chain fails, the reader is skipped
    const bad = await startRun(org.key, chainId, { input: { n: '2' } }, { prefer: 'wait=30' });
    expect(bad.body.data.status).toBe('failed');
    expect(bad.body.data.error?.code).toBe('INVALID_STEP_OUTPUT');
    expect(bad.body.data.steps.map((s) => [s.id, s.status, s.error?.code ?? null])).toEqual([
      ['src', 'failed', 'INVALID_STEP_OUTPUT'],
      ['use', 'skipped', null],
    ]);
    expect((await mock.calls({ contains: `${m} city=` })).length).toBe(1);
  });

  it('onError: fail fails the chain and skips what depends on it; continue goes on', async () => {
    const m = unique('onerr');
    const bad = await createPrompt(org.key, { template: `${m} bad` });
    const after = await createPrompt(org.key, { template: `${m} after [{{prev}}]` });
    // 400 from the provider: not retried, no fallback
    await mock.addRule({ match: { contains: `${m} bad` }, action: { type: 'fail', status: 400 } });
    const define = (onError: string) =>
      defineChain(org.key, {
        steps: [
          { id: 'bad', prompt: bad, onError },
          { id: 'after', prompt: after, dependsOn: ['bad'], variables: { prev: '{{steps.bad.output}}' } },
        ],
      });
    const failing = await startRun(org.key, await define('fail'), {}, { prefer: 'wait=30' });
    expect(failing.body.data.status).toBe('failed');
    expect(failing.body.data.error).toMatchObject({ code: 'PROVIDER_ERROR' });
    expect(failing.body.data.error?.message).toMatch(/^Step 'bad' failed/);
    expect(failing.body.data.steps.map((s) => s.status)).toEqual(['failed', 'skipped']);
    const failedRun = await call<{ data: RunBody }>('GET', `/v1/runs/${failing.body.data.steps[0]!.runId}`, {
      key: org.key,
    });
    expect(failedRun.body.data.status).toBe('failed');
    const [event] = await eventsOf(failing.body.data.id);
    expect(event).toMatchObject({ type: 'workflow.failed', payload: { status: 'failed' } });

    const going = await startRun(org.key, await define('continue'), {}, { prefer: 'wait=30' });
    expect(going.body.data.status).toBe('succeeded');
    expect(going.body.data.steps.map((s) => s.status)).toEqual(['failed', 'succeeded']);
    expect(going.body.data.output).toBe(`Echo: ${m} after []`);
  });

  it('cancel mid-chain cancels the running step (recorded canceled) and the steps not started', async () => {
    const m = unique('cancel');
    const slow = await createPrompt(org.key, { template: `${m} slow` });
    const next = await createPrompt(org.key, { template: `${m} next {{x}}` });
    await mock.addRule({ match: { contains: `${m} slow` }, times: 1, action: { type: 'delay', ms: 30_000 } });
    const chainId = await defineChain(org.key, {
      steps: [
        { id: 'slow', prompt: slow },
        { id: 'next', prompt: next, dependsOn: ['slow'], variables: { x: '{{steps.slow.output}}' } },
      ],
    });
    // Prefer: wait=1 on a chain that takes longer: 202 after about a second, as without it
    const t0 = Date.now();
    const started = await startRun(org.key, chainId, {}, { prefer: 'wait=1' });
    expect(started.status).toBe(202);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(900);
    expect(started.headers.get('preference-applied')).toBe('wait=1');
    const id = started.body.data.id;
    expect(started.body.data).toMatchObject({ status: 'queued', links: { self: `/v1/workflow-runs/${id}` } });
    await pollChainRun(org.key, id, (r) => r.steps[0]?.status === 'running');
    const deadline = Date.now() + 15_000;
    while ((await mock.calls({ contains: `${m} slow` })).length === 0 && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 50));
    }
    const canceled = await call<{ data: ChainRunBody }>('POST', `/v1/workflow-runs/${id}/cancel`, {
      key: org.key,
    });
    expect([200, 202]).toContain(canceled.status);
    const run = await pollChainRun(org.key, id);
    expect(run.status).toBe('canceled');
    expect(run.steps.map((s) => s.status)).toEqual(['canceled', 'canceled']);
    const stepRun = await call<{ data: RunBody }>('GET', `/v1/runs/${run.steps[0]!.runId}`, { key: org.key });
    expect(stepRun.body.data.status).toBe('canceled');
    expect(run.usage.totalTokens).toBe(stepRun.body.data.usage.totalTokens);
    expect((await mock.calls({ contains: `${m} next` })).length).toBe(0);
    const again = await call<ErrorBody>('POST', `/v1/workflow-runs/${id}/cancel`, { key: org.key });
    expect(again.status).toBe(409);
    expect(again.body.error.code).toBe('INVALID_STATE');
    const [event] = await eventsOf(id);
    expect(event).toMatchObject({ type: 'workflow.failed', payload: { status: 'canceled' } });
  });
});

describe('in Temporal', () => {
  it('a chain run is one workflow of type chain (id = wfr_ id) with its name and org in memo and summary; each step a child run', async () => {
    const p = await createPrompt(org.key, { template: `${unique('ui')} {{x}}` });
    const name = unique('ui-chain');
    const def = await call<{ data: { id: string } }>('POST', '/v1/workflows', {
      key: org.key,
      body: {
        name,
        steps: [
          { id: 'first', prompt: p, variables: { x: '1' } },
          { id: 'second', prompt: p, dependsOn: ['first'], variables: { x: '{{steps.first.output}}' } },
        ],
      },
    });
    const run = await startRun(org.key, def.body.data.id, {}, { prefer: 'wait=30' });
    expect(run.body.data.status).toBe('succeeded');
    const connection = await Connection.connect({ address: inject('temporalAddress') });
    try {
      const client = new Client({ connection });
      const described = await client.workflow.getHandle(run.body.data.id).describe();
      expect(described.workflowId).toBe(run.body.data.id);
      expect(described.type).toBe('chain');
      expect(described.status.name).toBe('COMPLETED');
      expect(described.memo).toMatchObject({ chain: name, chainId: def.body.data.id, org: org.orgId });
      expect(await described.staticSummary()).toBe(`chain ${name} (rev 1) · org ${org.orgId}`);
      for (const step of run.body.data.steps) {
        const child = await client.workflow.getHandle(step.runId!).describe();
        expect(child.type).toBe('runPromptWorkflow');
        expect(child.parentExecution?.workflowId).toBe(run.body.data.id);
        expect(await child.staticSummary()).toBe(`chain ${name} step ${step.id} (${run.body.data.id})`);
      }
    } finally {
      await connection.close();
    }
  });
});

describe('chain run requests', () => {
  let chainId: string;
  let p: string;
  beforeAll(async () => {
    p = await createPrompt(org.key, { template: `${unique('req')} {{x}}` });
    chainId = await defineChain(org.key, {
      input: [{ name: 'x' }],
      steps: [{ id: 'only', prompt: p, variables: { x: '{{input.x}}' } }],
    });
  });

  it('Idempotency-Key: the same body answers with the same run; another body is 409', async () => {
    const key = unique('idem');
    const first = await startRun(org.key, chainId, { input: { x: '1' } }, { 'idempotency-key': key });
    expect(first.status).toBe(202);
    const second = await startRun(org.key, chainId, { input: { x: '1' } }, { 'idempotency-key': key });
    expect(second.status).toBe(202);
    expect(second.body.data.id).toBe(first.body.data.id);
    expect(second.headers.get('idempotent-replayed')).toBe('true');
    const other = await startRun(org.key, chainId, { input: { x: '2' } }, { 'idempotency-key': key });
    expect(other.status).toBe(409);
    const [row] = await sql<{ n: number }[]>`
      SELECT count(*)::int AS n FROM chain_runs WHERE org_id = ${org.orgId} AND idempotency_key = ${key}`;
    expect(row?.n).toBe(1);
  });

  it('concurrent requests with one Idempotency-Key make one chain run', async () => {
    const key = unique('idem-race');
    const answers = await Promise.all(
      Array.from({ length: 8 }, () =>
        startRun(org.key, chainId, { input: { x: 'race' } }, { 'idempotency-key': key }),
      ),
    );
    expect(answers.map((a) => a.status)).toEqual(Array(8).fill(202));
    expect(new Set(answers.map((a) => a.body.data.id)).size).toBe(1);
    const [row] = await sql<{ n: number }[]>`
      SELECT count(*)::int AS n FROM chain_runs WHERE org_id = ${org.orgId} AND idempotency_key = ${key}`;
    expect(row?.n).toBe(1);
  });

  it('a key older than 24 h is free again: a new chain run, even with another body', async () => {
    const key = unique('idem-old');
    const old = await startRun(org.key, chainId, { input: { x: 'old' } }, { 'idempotency-key': key });
    expect(old.status).toBe(202);
    await sql`UPDATE chain_runs SET created_at = now() - interval '25 hours' WHERE id = ${old.body.data.id}`;
    const fresh = await startRun(org.key, chainId, { input: { x: 'new' } }, { 'idempotency-key': key });
    expect(fresh.status).toBe(202);
    expect(fresh.body.data.id).not.toBe(old.body.data.id);
    expect(fresh.headers.get('idempotent-replayed')).toBeNull();
    const rows =
      await sql`SELECT id FROM chain_runs WHERE org_id = ${org.orgId} AND idempotency_key = ${key}`;
    expect(rows).toEqual([{ id: fresh.body.data.id }]);
    // the old chain run is kept, only its key was released
    expect((await sql`SELECT 1 FROM chain_runs WHERE id = ${old.body.data.id}`).length).toBe(1);
  });

  it('checks the input contract (400 MISSING_VARIABLES / UNKNOWN_VARIABLES)', async () => {
    const missing = await startRun(org.key, chainId, { input: {} });
    expect(missing.status).toBe(400);
    expect((missing.body as unknown as ErrorBody).error.code).toBe('MISSING_VARIABLES');
    const unknown = await startRun(org.key, chainId, { input: { x: '1', y: 2 } });
    expect((unknown.body as unknown as ErrorBody).error.code).toBe('UNKNOWN_VARIABLES');
  });

  it('lists chain runs with filters; another organization gets 404 for a chain run and cannot cancel it', async () => {
    const started = await startRun(org.key, chainId, { input: { x: 'list' } }, { prefer: 'wait=30' });
    const id = started.body.data.id;
    const list = await call<{ data: { id: string; status: string }[] }>(
      'GET',
      `/v1/workflow-runs?workflow=${chainId}&status=succeeded`,
      { key: org.key },
    );
    expect(list.body.data.map((r) => r.id)).toContain(id);
    const perChain = await call<{ data: { id: string }[] }>('GET', `/v1/workflows/${chainId}/runs`, {
      key: org.key,
    });
    expect(perChain.body.data.map((r) => r.id)).toContain(id);
    const other = await createOrg();
    for (const [method, path] of [
      ['GET', `/v1/workflow-runs/${id}`],
      ['POST', `/v1/workflow-runs/${id}/cancel`],
    ] as const) {
      const res = await call<ErrorBody>(method, path, { key: other.key });
      expect(res.status).toBe(404);
      expect(res.body.error.code).toBe('WORKFLOW_RUN_NOT_FOUND');
    }
    const theirs = await call<{ data: unknown[] }>('GET', '/v1/workflow-runs', { key: other.key });
    expect(theirs.body.data).toEqual([]);
  });

  it('needs runs:execute; a key restricted to other prompts may not run a chain of them', async () => {
    const reader = await insertKey(sql, org.orgId, { scopes: ['runs:read'] });
    expect((await startRun(reader, chainId, { input: { x: '1' } })).status).toBe(403);
    const other = await createPrompt(org.key, { template: 'other' });
    const restricted = await insertKey(sql, org.orgId, {
      scopes: ['runs:execute', 'runs:read'],
      promptIds: [await promptId(org.key, other)],
    });
    const res = await startRun(restricted, chainId, { input: { x: '1' } });
    expect(res.status).toBe(403);
    expect((res.body as unknown as ErrorBody).error.code).toBe('FORBIDDEN');
    // nor learn, through a replayed Idempotency-Key, the id of a chain run of prompts it may not use
    const key = unique('idem-restricted');
    expect((await startRun(org.key, chainId, { input: { x: '1' } }, { 'idempotency-key': key })).status).toBe(
      202,
    );
    const replay = await startRun(restricted, chainId, { input: { x: '1' } }, { 'idempotency-key': key });
    expect(replay.status).toBe(409);
    expect(replay.text).not.toMatch(/wfr_/);
  });

  it('a chain run counts as one request against the rate limit, however many steps it has', async () => {
    const k = await createKey(org.key, {
      scopes: ['runs:execute', 'runs:read'],
      rateLimits: { perMinute: 20 },
    });
    const three = await defineChain(org.key, {
      input: [{ name: 'x' }],
      steps: ['a', 'b', 'c'].map((id) => ({ id, prompt: p, variables: { x: '{{input.x}}' } })),
    });
    const res = await startRun(k.key, three, { input: { x: 'rl' } }, { prefer: 'wait=30' });
    expect(res.body.data.status).toBe('succeeded');
    const before = Number(res.headers.get('x-ratelimit-remaining'));
    const after = await call('GET', `/v1/workflow-runs/${res.body.data.id}`, { key: k.key });
    expect(Number(after.headers.get('x-ratelimit-remaining'))).toBe(before - 1);
  });
});

describe('budgets', () => {
  it('402 when the budget is spent; checked again before each step', async () => {
    const small = await createOrg({ tokenBudget: 12 });
    const m = unique('budget');
    const p = await createPrompt(small.key, { template: `${m} one two three four five {{x}}` });
    const chainId = await defineChain(small.key, {
      steps: [
        { id: 'first', prompt: p, variables: { x: 'a' } },
        { id: 'second', prompt: p, dependsOn: ['first'], variables: { x: 'b' } },
      ],
    });
    const run = await startRun(small.key, chainId, {}, { prefer: 'wait=30' });
    expect(run.body.data.status).toBe('failed');
    expect(run.body.data.steps.map((s) => [s.status, s.error?.code ?? null])).toEqual([
      ['succeeded', null],
      ['failed', 'INSUFFICIENT_TOKENS'],
    ]);
    expect(run.body.data.steps[1]!.runId).toBeNull();
    const refused = await startRun(small.key, chainId);
    expect(refused.status).toBe(402);
    expect((refused.body as unknown as ErrorBody).error.code).toBe('INSUFFICIENT_TOKENS');
  });
});
