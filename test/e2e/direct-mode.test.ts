// One suite, both modes: every scenario runs once through the stack's api (SYNC_RUN_MODE=workflow,
// the run is a Temporal workflow) and once through an api in direct mode (the api process runs it),
// and must leave the same traces — the same HTTP answer, the same usage_events rows, the same run
// resource (but its mode), the same metric increments (the worker's /metrics in workflow mode, the
// direct api's own in direct mode) — modulo ids, timings and the scenario's own markers.

import type { MockRule } from '@promptmill/dev/mock-provider';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import {
  increments,
  type RunAnswer,
  runEnded,
  runMetrics,
  runPrompt,
  runResource,
  startDirectApi,
  usageRows,
  withoutMarkers,
} from './direct-support.ts';
import { apiUrl, call, createOrg, createPrompt, mock, type TestOrg, unique } from './helpers.ts';
import type { ExtraApi } from './limits-support.ts';
import { testSql } from './runs-support.ts';

const sql = testSql();
type Mode = 'workflow' | 'direct';
let direct: ExtraApi;
let org: TestOrg;

beforeAll(async () => {
  [direct, org] = await Promise.all([startDirectApi(), createOrg({ plan: 'enterprise' })]);
});
afterAll(() => direct?.stop());

const target = (mode: Mode) =>
  mode === 'workflow'
    ? { url: apiUrl, metrics: inject('workerMetricsUrl') }
    : { url: direct.url, metrics: `${direct.url}/metrics` };

interface Scenario {
  /** the version's body; its template carries `marker`, which the mock rules match */
  version: (marker: string) => Record<string, unknown>;
  rules?: (marker: string) => MockRule[];
  stream?: boolean;
  /** drop the connection at the first delta */
  disconnect?: boolean;
  /** while the run waits on the provider: cancel it with POST /v1/runs/:id/cancel */
  cancelWhileRunning?: boolean;
  /** provider calls the run makes */
  calls: number;
}

interface Observed {
  answer: RunAnswer;
  rows: unknown[];
  mode: unknown;
  resource: unknown;
  metrics: Record<string, number>;
}

const PROVIDER_CALLS = 'promptmill_provider_latency_seconds_count';

/** Drops the durationMs figures (timings), everywhere in the answer. */
const withoutDurations = (answer: RunAnswer): RunAnswer =>
  JSON.parse(JSON.stringify(answer), (k, v) => (k === 'durationMs' && typeof v === 'number' ? '<ms>' : v));

async function observe(mode: Mode, s: Scenario): Promise<Observed> {
  const { url, metrics } = target(mode);
  const marker = unique(`dm-${mode}`);
  const name = await createPrompt(org.key, s.version(marker));
  const rules = await Promise.all((s.rules?.(marker) ?? []).map((r) => mock.addRule(r)));
  try {
    const before = await runMetrics(metrics, org.orgId, name);
    const body = {
      promptName: name,
      variables: { text: 'hello there' },
      ...(s.stream ? { stream: true } : {}),
    };
    const answering = runPrompt(url, org.key, body, { disconnectAfterDelta: s.disconnect ?? false });
    if (s.cancelWhileRunning) {
      await expect.poll(async () => (await mock.calls({ contains: marker })).length).toBe(1);
      const [row] = await sql<{ id: string }[]>`
        SELECT r.id FROM runs r JOIN prompts p ON p.id = r.prompt_id WHERE p.name = ${name} AND p.org_id = ${org.orgId}`;
      const canceled = await call('POST', `/v1/runs/${row!.id}/cancel`, { key: org.key, baseUrl: url });
      // 202 when the cancellation takes longer than the request waits (a busy machine, workflow mode)
      expect([200, 202]).toContain(canceled.status);
    }
    const answer = await answering;
    const runId = answer.runId;
    if (!runId) {
      const after = await runMetrics(metrics, org.orgId, name);
      const [row] = await sql<{ count: number }[]>`
        SELECT count(*)::int AS count FROM runs r JOIN prompts p ON p.id = r.prompt_id WHERE p.name = ${name}`;
      expect(row?.count).toBe(0);
      return withoutMarkers(
        { answer, rows: [], mode: null, resource: null, metrics: increments(before, after) },
        { [marker]: '<marker>', [name]: '<prompt>' },
      );
    }
    await runEnded(sql, runId);
    const rows = await usageRows(sql, runId);
    const { mode: recordedMode, resource } = await runResource(url, org.key, runId);
    // the run's counters are published just after its end is committed (in workflow mode by the worker,
    // once the workflow has taken the outcome): give them a moment, and go on with what there is
    let moved = increments(before, await runMetrics(metrics, org.orgId, name));
    for (const deadline = Date.now() + 3_000; Date.now() < deadline; ) {
      if (Object.keys(moved).some((k) => k.startsWith('promptmill_runs_total'))) break;
      await new Promise((r) => setTimeout(r, 100));
      moved = increments(before, await runMetrics(metrics, org.orgId, name));
    }
    // provider calls have no prompt label: the worker's count also moves with other files' runs
    const providerCalls = Object.entries(moved)
      .filter(([k]) => k.startsWith(PROVIDER_CALLS))
      .reduce((n, [, v]) => n + v, 0);
    if (mode === 'direct') expect(providerCalls).toBe(s.calls);
    else expect(providerCalls).toBeGreaterThanOrEqual(s.calls);
    for (const k of Object.keys(moved)) if (k.startsWith(PROVIDER_CALLS)) delete moved[k];
    return withoutMarkers(
      { answer: withoutDurations(answer), rows: [...rows], mode: recordedMode, resource, metrics: moved },
      { [marker]: '<marker>', [name]: '<prompt>', [runId]: '<run>' },
    );
  } finally {
    await Promise.all(rules.map((r) => mock.removeRule(r)));
  }
}

/**
 * A plain provider call a workflow cancels is a race in workflow mode: the activity closes its
 * attempt row (failed, no tokens) before or after the workflow's completion counts it as
 * interrupted (at its estimate). Direct mode always closes it first. These are the parts that
 * depend on that race.
 */
function withoutCanceledCallUsage(o: Observed): Observed {
  const usageFree = (row: unknown) => {
    const {
      status: _s,
      errorCode: _e,
      promptTokens: _p,
      completionTokens: _c,
      cost: _x,
      hasDetail: _d,
      ...rest
    } = row as Record<string, unknown>;
    return rest;
  };
  const { usage: _usage, ...resource } = o.resource as Record<string, unknown>;
  const metrics = Object.fromEntries(
    Object.entries(o.metrics).filter(
      ([k]) => !k.startsWith('promptmill_tokens_total') && !k.startsWith('promptmill_cost'),
    ),
  );
  return { ...o, rows: o.rows.map(usageFree), resource, metrics };
}

/** The scenario in workflow mode, then in direct mode; both must agree. Returns both. */
async function inBothModes(s: Scenario): Promise<Observed & { direct: Observed }> {
  const workflow = await observe('workflow', s);
  const inDirect = await observe('direct', s);
  const comparable = s.cancelWhileRunning ? withoutCanceledCallUsage : (o: Observed) => o;
  const { mode: wfMode, ...wf } = comparable(workflow);
  const { mode: directMode, ...dm } = comparable(inDirect);
  expect(dm).toEqual(wf);
  if (wfMode !== null) {
    expect(wfMode).toBe(s.stream ? 'stream' : 'sync');
    expect(directMode).toBe('direct');
  }
  return { ...workflow, direct: inDirect };
}

const template = (marker: string, extra = '') => ({ template: `${marker} {{text}}${extra}` });
const counters = (o: Observed) =>
  Object.fromEntries(Object.entries(o.metrics).filter(([k]) => k.includes('_total')));

describe('direct mode and workflow mode leave the same traces', () => {
  it('a run that succeeds', async () => {
    const o = await inBothModes({ version: (m) => template(m), calls: 1 });
    expect(o.answer).toMatchObject({ status: 200, body: { success: true, model: 'mock-1', runId: '<run>' } });
    expect(o.rows.map((r) => (r as { kind: string; status: string }).status)).toEqual([
      'succeeded',
      'succeeded',
    ]);
    expect(o.resource).toMatchObject({ status: 'succeeded', attempts: 1, error: null });
    expect(counters(o)).toMatchObject({
      'promptmill_runs_total{prompt="<p>",version="1",model="mock-1",status="succeeded"}': 1,
    });
    expect(o.metrics['promptmill_run_duration_seconds_count{prompt="<p>",model="mock-1"}']).toBe(1);
  });

  it('a provider 500, then success on the retry', async () => {
    const o = await inBothModes({
      version: (m) => template(m),
      rules: (m) => [{ match: { contains: m }, times: 1, action: { type: 'fail', status: 500 } }],
      calls: 2,
    });
    expect(o.answer.status).toBe(200);
    expect(o.rows).toMatchObject([
      {
        kind: 'attempt',
        seq: 1,
        status: 'failed',
        errorCode: 'PROVIDER_ERROR',
        promptTokens: 0,
        hasDetail: true,
      },
      { kind: 'attempt', seq: 2, status: 'succeeded', errorCode: null },
      { kind: 'run', status: 'succeeded' },
    ]);
    expect(o.resource).toMatchObject({ status: 'succeeded', attempts: 2 });
  });

  it('the model fails every attempt: the fallback model answers', async () => {
    const o = await inBothModes({
      version: (m) => ({ ...template(m), fallbackModels: ['mock-fast'] }),
      rules: (m) => [{ match: { contains: m, model: 'mock-1' }, action: { type: 'fail', status: 503 } }],
      calls: 4,
    });
    expect(o.answer).toMatchObject({ status: 200, body: { model: 'mock-fast' } });
    expect(o.rows).toMatchObject([
      { seq: 1, model: 'mock-1', status: 'failed' },
      { seq: 2, model: 'mock-1', status: 'failed' },
      { seq: 3, model: 'mock-1', status: 'failed' },
      { seq: 1001, model: 'mock-fast', status: 'succeeded' },
      { kind: 'run', model: 'mock-fast', status: 'succeeded' },
    ]);
    expect(counters(o)).toMatchObject({
      'promptmill_runs_total{prompt="<p>",version="1",model="mock-fast",status="succeeded"}': 1,
    });
  });

  it('a provider 400 is not retried: 502 PROVIDER_ERROR, the run failed', async () => {
    const o = await inBothModes({
      version: (m) => ({ ...template(m), fallbackModels: ['mock-fast'] }),
      rules: (m) => [{ match: { contains: m }, action: { type: 'fail', status: 400 } }],
      calls: 1,
    });
    expect(o.answer).toEqual({
      status: 502,
      contentType: 'application/json; charset=utf-8',
      runId: '<run>',
      body: {
        success: false,
        code: 'PROVIDER_ERROR',
        error: "Model 'mock-1' rejected the request (HTTP 400): check the version's model and params",
        runId: '<run>',
      },
    });
    expect(o.rows).toMatchObject([
      { kind: 'attempt', status: 'failed', errorCode: 'PROVIDER_REJECTED' },
      { kind: 'run', status: 'failed', errorCode: 'PROVIDER_REJECTED' },
    ]);
    expect(o.resource).toMatchObject({ status: 'failed', error: { code: 'PROVIDER_ERROR' } });
  });

  it('a streaming run: the deltas, then done with the usage', async () => {
    const o = await inBothModes({
      version: (m) => template(m, ' one two three four'),
      stream: true,
      calls: 1,
    });
    expect(o.answer).toMatchObject({
      status: 200,
      body: {
        deltas: 'Echo: <marker> hello there one two three four',
        events: [{ event: 'done', data: { runId: '<run>', model: 'mock-1', promptVersion: 1 } }],
      },
    });
    expect(o.rows).toMatchObject([{ status: 'succeeded' }, { status: 'succeeded' }]);
  });

  it('a stream that breaks after two chunks: one error event, the partial usage recorded', async () => {
    const o = await inBothModes({
      version: (m) => ({ ...template(m, ' one two three four'), fallbackModels: ['mock-fast'] }),
      rules: (m) => [{ match: { contains: m }, action: { type: 'break-stream', afterChunks: 2 } }],
      stream: true,
      calls: 1,
    });
    expect(o.answer.body).toEqual({
      deltas: 'Echo: <marker> ',
      events: [
        {
          event: 'error',
          data: {
            code: 'PROVIDER_ERROR',
            message: "The stream from model 'mock-1' broke after 2 chunks",
            runId: '<run>',
          },
        },
      ],
    });
    expect(o.rows).toMatchObject([
      { kind: 'attempt', status: 'failed', errorCode: 'STREAM_BROKEN', completionTokens: 2 },
      { kind: 'run', status: 'failed', completionTokens: 2 },
    ]);
  });

  it('a client that goes away mid-stream cancels the run: the tokens streamed so far are counted', async () => {
    const o = await inBothModes({
      version: (m) => template(m, ' one two three four'),
      rules: (m) => [{ match: { contains: m }, action: { type: 'delay', ms: 0, chunkDelayMs: 3_000 } }],
      stream: true,
      disconnect: true,
      calls: 1,
    });
    expect(o.rows).toMatchObject([
      { kind: 'attempt', status: 'failed', errorCode: 'RUN_CANCELED', completionTokens: 1 },
      { kind: 'run', status: 'canceled', completionTokens: 1 },
    ]);
    expect(o.resource).toMatchObject({ status: 'canceled', error: { code: 'RUN_CANCELED' } });
    expect(counters(o)).toMatchObject({
      'promptmill_runs_total{prompt="<p>",version="1",model="mock-1",status="canceled"}': 1,
    });
  });

  it('POST /v1/runs/:id/cancel while a sync run waits: 409 RUN_CANCELED for the waiting client', async () => {
    const o = await inBothModes({
      version: (m) => template(m),
      rules: (m) => [{ match: { contains: m }, action: { type: 'hang' } }],
      cancelWhileRunning: true,
      calls: 1,
    });
    expect(o.answer).toMatchObject({
      status: 409,
      body: { success: false, code: 'RUN_CANCELED', error: 'Run was canceled', runId: '<run>' },
    });
    expect(o.resource).toMatchObject({ status: 'canceled' });
    // direct mode closes the aborted call's row before the run's completion: canceled, no tokens
    expect(o.direct.rows).toMatchObject([
      { kind: 'attempt', status: 'failed', errorCode: 'RUN_CANCELED', promptTokens: 0, hasDetail: true },
      { kind: 'run', status: 'canceled', errorCode: 'RUN_CANCELED', promptTokens: 0 },
    ]);
  });

  it('a version that caches: the completion fills the identical-request cache', async () => {
    const o = await inBothModes({ version: (m) => ({ ...template(m), cacheTtlSeconds: 60 }), calls: 1 });
    expect(o.rows).toMatchObject([{ status: 'succeeded' }, { status: 'succeeded' }]);
    for (const mode of ['workflow', 'direct'] as const) {
      const [row] = await sql<{ n: number }[]>`
        SELECT count(*)::int AS n FROM run_cache c JOIN runs r ON r.id = c.run_id
        WHERE r.org_id = ${org.orgId} AND r.mode = ${mode === 'workflow' ? 'sync' : 'direct'}`;
      expect(row!.n).toBeGreaterThanOrEqual(1);
    }
  });

  it('a spent token budget: 402 INSUFFICIENT_TOKENS, no run', async () => {
    const saved = org;
    org = await createOrg({ plan: 'enterprise', tokenBudget: 0 });
    try {
      const o = await inBothModes({ version: (m) => template(m), calls: 0 });
      expect(o.answer).toMatchObject({ status: 402, body: { success: false, code: 'INSUFFICIENT_TOKENS' } });
      expect(o.metrics).toEqual({});
    } finally {
      org = saved;
    }
  });
});

describe('direct mode only', () => {
  it('a direct run announces its end on pm_run_done when its completion commits, as a workflow run does', async () => {
    const marker = unique('dm-done');
    const name = await createPrompt(org.key, template(marker));
    const heard: { id: string; status: string; output: string | null }[] = [];
    const listening = await sql.listen('pm_run_done', (payload) => {
      if (payload.startsWith('{')) heard.push(JSON.parse(payload) as (typeof heard)[number]);
    });
    try {
      const answer = await runPrompt(direct.url, org.key, { promptName: name, variables: { text: 'x' } });
      expect(answer.status).toBe(200);
      await expect
        .poll(() => heard.find((h) => h.id === answer.runId))
        .toMatchObject({ status: 'succeeded', output: `Echo: ${marker} x` });
    } finally {
      await listening.unlisten();
    }
  });

  it('a sync client that goes away cancels its run at once', async () => {
    const marker = unique('dm-gone');
    const name = await createPrompt(org.key, template(marker));
    const rule = await mock.addRule({ match: { contains: marker }, action: { type: 'hang' } });
    try {
      const client = new AbortController();
      const answering = fetch(`${direct.url}/api/v1/run`, {
        method: 'POST',
        headers: { authorization: `Bearer ${org.key}`, 'content-type': 'application/json' },
        body: JSON.stringify({ promptName: name, variables: { text: 'x' } }),
        signal: client.signal,
      }).catch((err: unknown) => err);
      await expect.poll(async () => (await mock.calls({ contains: marker })).length).toBe(1);
      const [row] = await sql<{ id: string }[]>`
        SELECT r.id FROM runs r JOIN prompts p ON p.id = r.prompt_id WHERE p.name = ${name} AND p.org_id = ${org.orgId}`;
      client.abort();
      await answering;
      const started = Date.now();
      expect(await runEnded(sql, row!.id)).toBe('canceled');
      expect(Date.now() - started).toBeLessThan(1_000);
      expect(await usageRows(sql, row!.id)).toMatchObject([
        { kind: 'attempt', status: 'failed', errorCode: 'RUN_CANCELED', promptTokens: 0 },
        { kind: 'run', status: 'canceled', errorCode: 'RUN_CANCELED' },
      ]);
    } finally {
      await mock.removeRule(rule);
    }
  });
});
