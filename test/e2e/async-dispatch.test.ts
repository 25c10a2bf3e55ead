// Async runs are answered once their row is committed; their workflows are started in the
// background by the accepting process's dispatcher, or by any process's sweeper when that process
// died first. Here: the happy path, a crash right after the 202 (SIGKILL), a graceful stop that
// drains, a cancel before dispatch (never started), and double starts.

import { stopChild } from '@promptmill/dev/stack';
import { Client, Connection, WorkflowNotFoundError } from '@temporalio/client';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import {
  createDispatchStore,
  createRunDispatcher,
  type DispatchOutcome,
  type RunDispatcher,
} from '../../api/src/runs/dispatch/index.ts';
import { startRunWorkflowOnce } from '../../api/src/runs/run-workflow.ts';
import type { TemporalHandle } from '../../api/src/temporal.ts';
import { insertRun } from '../../infra/src/db/index.ts';
import { newId } from '../../infra/src/ids.ts';
import { TASK_QUEUE } from '../../workflows/src/contracts/run.ts';
import type { RunPromptWorkflowInput } from '../../workflows/src/workflows/run-prompt.workflow.ts';
import { apiUrl, call, createOrg, createPrompt, mock, type TestOrg, unique } from './helpers.ts';
import { type ExtraApi, startExtraApi } from './limits-support.ts';
import { pollRun, type RunBody, testSql } from './runs-support.ts';

const sql = testSql();

// these tests poll runs for several seconds (sweeps wait 5 s): above the default per-minute limit
const UNLIMITED = { plan: 'enterprise', limits: { perMinute: 100_000, perDay: 1_000_000 } };

/** The shared api's sweeper claims unclaimed runs this old (DISPATCH_TUNING.minAgeSeconds). */
const SWEEP_MIN_AGE_MS = 5_000;

interface Accepted {
  data: { id: string; status: string };
}

interface DispatchRow {
  status: string;
  dispatchedAt: Date | null;
  createdAt: Date;
  hasWorkflowInput: boolean;
}

async function dispatchRow(id: string): Promise<DispatchRow> {
  const [row] = await sql<DispatchRow[]>`
    SELECT status, dispatched_at AS "dispatchedAt", created_at AS "createdAt",
           workflow_input IS NOT NULL AS "hasWorkflowInput"
    FROM runs WHERE id = ${id}`;
  if (!row) throw new Error(`no run ${id}`);
  return row;
}

let connection: Connection;
let temporal: TemporalHandle;

beforeAll(async () => {
  connection = await Connection.connect({ address: inject('temporalAddress') });
  temporal = { connection, client: new Client({ connection }), taskQueue: TASK_QUEUE };
});
afterAll(async () => {
  await connection?.close();
});

/** The workflow's status, or 'NOT_FOUND' when no workflow with this id was ever started. */
async function workflowStatus(id: string): Promise<string> {
  try {
    return (await temporal.client.workflow.getHandle(id).describe()).status.name;
  } catch (err) {
    if (err instanceof WorkflowNotFoundError) return 'NOT_FOUND';
    throw err;
  }
}

/**
 * Commits a queued async run exactly as POST /v1/runs does (insertRun with its workflow input) and
 * hands it to nobody: what a process that died right after its 202 leaves behind.
 */
async function queueOrphanRun(
  org: TestOrg,
  promptName: string,
  text: string,
): Promise<RunPromptWorkflowInput> {
  const [p] = await sql<{ promptId: string; versionId: string }[]>`
    SELECT p.id AS "promptId", v.id AS "versionId"
    FROM prompts p JOIN prompt_versions v ON v.prompt_id = p.id AND v.version = 1
    WHERE p.org_id = ${org.orgId} AND p.name = ${promptName}`;
  if (!p) throw new Error(`no prompt ${promptName}`);
  const runId = newId('run');
  const input: RunPromptWorkflowInput = {
    runId,
    orgId: org.orgId,
    keyId: org.keyId,
    promptId: p.promptId,
    promptName,
    promptVersion: 1,
    versionId: p.versionId,
    model: 'mock-1',
    fallbackModels: [],
    messages: [{ role: 'user', content: text }],
    params: {},
    mode: 'async',
    retry: { maxAttempts: 3, initialIntervalMs: 50 },
  };
  const inserted = await insertRun(sql, {
    id: runId,
    orgId: org.orgId,
    keyId: org.keyId,
    promptId: p.promptId,
    versionId: p.versionId,
    promptVersion: 1,
    mode: 'async',
    variables: {},
    metadata: null,
    webhookUrl: null,
    model: 'mock-1',
    idempotencyKey: null,
    requestHash: null,
    workflowInput: input,
  });
  if (!inserted) throw new Error('run not inserted');
  return input;
}

const metricValue = (text: string, result: string) => {
  const m = new RegExp(`^promptmill_run_dispatch_total\\{result="${result}"\\} (\\d+)`, 'm').exec(text);
  return m ? Number(m[1]) : 0;
};

describe('async dispatch: accept, then start in the background', () => {
  let org: TestOrg;
  let name: string;
  let marker: string;

  beforeAll(async () => {
    org = await createOrg(UNLIMITED);
    marker = unique('dispatch');
    name = await createPrompt(org.key, { template: `${marker} {{x}}` });
  });

  it('202 queued; the accepting process starts the workflow at once and the run completes', async () => {
    const before = metricValue((await call('GET', '/metrics')).text, 'started');
    const res = await call<Accepted>('POST', '/v1/runs', {
      key: org.key,
      body: { prompt: name, variables: { x: 'a' } },
    });
    expect(res.status).toBe(202);
    expect(res.body.data.status).toBe('queued');
    const id = res.body.data.id;
    const run = await pollRun(org.key, id);
    expect(run).toMatchObject({ status: 'succeeded', output: `Echo: ${marker} a`, attempts: 1 });

    const row = await dispatchRow(id);
    expect(row.dispatchedAt).not.toBeNull();
    // the dispatcher's claim, not a sweeper's (those wait SWEEP_MIN_AGE_MS)
    expect(row.dispatchedAt!.getTime() - row.createdAt.getTime()).toBeLessThan(SWEEP_MIN_AGE_MS);
    expect(row.hasWorkflowInput).toBe(false); // cleared once the run finished
    expect(await workflowStatus(id)).toBe('COMPLETED');
    const after = metricValue((await call('GET', '/metrics')).text, 'started');
    expect(after).toBeGreaterThan(before);
  });

  it('a committed run nobody dispatched (its process died) is started by a sweeper and completes', async () => {
    const input = await queueOrphanRun(org, name, `${marker} orphan`);
    expect(await dispatchRow(input.runId)).toMatchObject({ status: 'queued', dispatchedAt: null });
    const run = await pollRun(org.key, input.runId, undefined, 30_000);
    expect(run).toMatchObject({
      status: 'succeeded',
      output: `Echo: ${marker} orphan`,
      attempts: 1,
      mode: 'async',
    });
    const row = await dispatchRow(input.runId);
    expect(row.dispatchedAt!.getTime() - row.createdAt.getTime()).toBeGreaterThanOrEqual(
      SWEEP_MIN_AGE_MS - 50,
    );
    expect(await mock.calls({ contains: `${marker} orphan` })).toHaveLength(1);
  });

  it('a run that could not be started for RUN_DISPATCH_GIVE_UP_SECONDS fails with SERVICE_UNAVAILABLE', async () => {
    const text = `${marker} too-late`;
    const input = await queueOrphanRun(org, name, text);
    // as if Temporal had been unreachable since this run was accepted 11 minutes ago (default: 10 min)
    await sql`UPDATE runs SET created_at = now() - interval '11 minutes', idempotency_key = ${unique('k')}
              WHERE id = ${input.runId}`;
    const run = await pollRun(org.key, input.runId, undefined, 15_000);
    expect(run).toMatchObject({
      status: 'failed',
      attempts: 0,
      error: {
        code: 'SERVICE_UNAVAILABLE',
        message:
          'The run could not be started within 10 min (the workflow service was unavailable); try again',
      },
    });
    const [row] =
      await sql`SELECT idempotency_key AS "key", workflow_input IS NULL AS "cleared" FROM runs WHERE id = ${input.runId}`;
    expect(row).toEqual({ key: null, cleared: true }); // the key may be used again
    expect(await workflowStatus(input.runId)).toBe('NOT_FOUND');
    // no metric check here: which process abandons the run is not fixed (other suites start api processes
    // on the same database, and their sweepers may get there first); dispatcher.test.ts counts 'abandoned'
  });

  it('cancel before dispatch: 200 canceled at once, and the run is never started', async () => {
    const text = `${marker} never`;
    const input = await queueOrphanRun(org, name, text);
    const res = await call<{ data: RunBody }>('POST', `/v1/runs/${input.runId}/cancel`, { key: org.key });
    expect(res.status).toBe(200);
    expect(res.body.data).toMatchObject({
      id: input.runId,
      status: 'canceled',
      output: null,
      error: { code: 'RUN_CANCELED', message: 'Run was canceled' },
      attempts: 0,
      usage: { promptTokens: 0, completionTokens: 0, totalTokens: 0, cost: 0 },
    });
    expect(res.body.data.timings.finishedAt).not.toBeNull();
    const usage =
      await sql`SELECT kind, status, error_code AS "errorCode" FROM usage_events WHERE run_id = ${input.runId}`;
    expect(usage).toEqual([{ kind: 'run', status: 'canceled', errorCode: 'RUN_CANCELED' }]);

    // long enough for the shared api's sweeper (every 2 s, runs older than 5 s) to have claimed it if it could
    await new Promise((r) => setTimeout(r, SWEEP_MIN_AGE_MS + 3_000));
    expect(await dispatchRow(input.runId)).toMatchObject({ status: 'canceled', dispatchedAt: null });
    expect(await workflowStatus(input.runId)).toBe('NOT_FOUND');
    expect(await mock.calls({ contains: text })).toHaveLength(0);
    const again = await call('POST', `/v1/runs/${input.runId}/cancel`, { key: org.key });
    expect(again.status).toBe(409);
    expect(again.body).toMatchObject({ error: { code: 'INVALID_STATE' } });
  });
});

describe('async dispatch: the accepting process goes away', () => {
  // hold accepted runs in memory (test knob), so the process can be stopped before it dispatches them
  const heldEnv = {
    NODE_ENV: 'test',
    RUN_DISPATCH_TEST_HOLD_MS: '60000',
    // these processes must not sweep: their sweeper would claim other tests' runs
    RUN_DISPATCH_SWEEP_INTERVAL_MS: '600000',
  };
  let org: TestOrg;
  let name: string;
  let marker: string;
  let killed: ExtraApi;
  let drained: ExtraApi;

  beforeAll(async () => {
    org = await createOrg(UNLIMITED);
    marker = unique('gone');
    name = await createPrompt(org.key, { template: `${marker} {{x}}` });
    [killed, drained] = await Promise.all([startExtraApi(heldEnv), startExtraApi(heldEnv)]);
  });
  afterAll(async () => {
    await Promise.all([killed, drained].map((p) => p && stopChild(p.process.child, 10_000)));
  });

  it('SIGKILL right after the 202: another process sweeps the run up and it completes', async () => {
    const res = await call<Accepted>('POST', '/v1/runs', {
      baseUrl: killed.url,
      key: org.key,
      body: { prompt: name, variables: { x: 'killed' } },
    });
    expect(res.status).toBe(202);
    const exited = new Promise((r) => killed.process.child.once('exit', r));
    killed.process.child.kill('SIGKILL');
    await exited;
    const id = res.body.data.id;
    expect(await dispatchRow(id)).toMatchObject({
      status: 'queued',
      dispatchedAt: null,
      hasWorkflowInput: true,
    });
    expect(await workflowStatus(id)).toBe('NOT_FOUND');

    const run = await pollRun(org.key, id, undefined, 30_000);
    expect(run).toMatchObject({ status: 'succeeded', output: `Echo: ${marker} killed`, attempts: 1 });
    expect(await mock.calls({ contains: `${marker} killed` })).toHaveLength(1);
  });

  it('SIGTERM: the stopping process starts what it accepted before it exits, and skips what was canceled', async () => {
    const post = (x: string) =>
      call<Accepted>('POST', '/v1/runs', {
        baseUrl: drained.url,
        key: org.key,
        body: { prompt: name, variables: { x } },
      });
    const [kept, dropped] = await Promise.all([post('drained'), post('dropped')]);
    expect([kept.status, dropped.status]).toEqual([202, 202]);
    // canceled through the shared api while the other process still holds it in memory
    const cancel = await call<{ data: RunBody }>('POST', `/v1/runs/${dropped.body.data.id}/cancel`, {
      key: org.key,
    });
    expect(cancel.status).toBe(200);
    expect(cancel.body.data.status).toBe('canceled');

    const exit = new Promise<number | null>((r) => drained.process.child.once('exit', (code) => r(code)));
    drained.process.child.kill('SIGTERM');
    expect(await exit).toBe(0);

    const row = await dispatchRow(kept.body.data.id);
    // claimed by the draining process before it exited, well before any sweeper could
    expect(row.dispatchedAt).not.toBeNull();
    expect(row.dispatchedAt!.getTime() - row.createdAt.getTime()).toBeLessThan(SWEEP_MIN_AGE_MS);
    expect(['queued', 'running', 'succeeded']).toContain(row.status);
    const run = await pollRun(org.key, kept.body.data.id);
    expect(run).toMatchObject({ status: 'succeeded', output: `Echo: ${marker} drained` });

    expect(await dispatchRow(dropped.body.data.id)).toMatchObject({ status: 'canceled', dispatchedAt: null });
    expect(await workflowStatus(dropped.body.data.id)).toBe('NOT_FOUND');
    expect(await mock.calls({ contains: `${marker} dropped` })).toHaveLength(0);
  });
});

describe('async dispatch: starting twice is harmless', () => {
  const dispatchers: RunDispatcher[] = [];
  afterAll(async () => {
    await Promise.all(dispatchers.map((d) => d.stop(5_000)));
  });

  it('two dispatchers and a late sweeper start one run: one workflow, one provider call, usage once', async () => {
    const org = await createOrg(UNLIMITED);
    const marker = unique('twice');
    const name = await createPrompt(org.key, { template: `${marker} {{x}}` });
    const counts: Record<string, number> = {};
    // two api processes' dispatchers over the same outbox (no sweepers of their own)
    for (let i = 0; i < 2; i++) {
      dispatchers.push(
        createRunDispatcher({
          store: createDispatchStore(sql, { minAgeSeconds: 5, staleClaimSeconds: 30, giveUpSeconds: 600 }),
          start: (input) => startRunWorkflowOnce(temporal, input),
          logger: { info: () => {}, warn: () => {}, error: () => {} },
          count: (o: DispatchOutcome, n: number) => {
            counts[o] = (counts[o] ?? 0) + n;
          },
          concurrency: 4,
          flushIntervalMs: 20,
          maxBatch: 100,
          maxQueued: 100,
          sweepIntervalMs: 0,
          sweepBatch: 10,
        }),
      );
    }
    const text = `${marker} once`;
    const input = await queueOrphanRun(org, name, text);
    for (const d of dispatchers) d.dispatch(input);
    await Promise.all(dispatchers.map((d) => d.whenSettled(input.runId)));
    // one claim wins: the other dispatcher never tried to start it
    expect(counts).toEqual({ started: 1 });

    // a sweeper whose claim went stale starts it again, during the run and after it finished
    expect(await startRunWorkflowOnce(temporal, input)).toBe('already_started');
    const run = await pollRun(org.key, input.runId);
    expect(run).toMatchObject({ status: 'succeeded', output: `Echo: ${text}`, attempts: 1 });
    const handle = temporal.client.workflow.getHandle(input.runId);
    const execution = (await handle.describe()).runId;
    expect(await startRunWorkflowOnce(temporal, input)).toBe('already_started');
    // still the one execution, finished: a finished run is never run again
    const latest = await handle.describe();
    expect(latest.runId).toBe(execution);
    expect(latest.status.name).toBe('COMPLETED');

    expect(await mock.calls({ contains: text })).toHaveLength(1);
    const usage = await sql<{ kind: string; n: number }[]>`
      SELECT kind, count(*)::int AS n FROM usage_events WHERE run_id = ${input.runId} GROUP BY kind ORDER BY kind`;
    expect(usage).toEqual([
      { kind: 'attempt', n: 1 },
      { kind: 'run', n: 1 },
    ]);
    const [month] = await sql<
      { runs: number }[]
    >`SELECT runs::int AS runs FROM org_usage_monthly WHERE org_id = ${org.orgId}`;
    expect(month?.runs).toBe(1);
  });
});

it('the dispatch counter is exposed on the api registry', async () => {
  const res = await call('GET', '/metrics', { baseUrl: apiUrl });
  expect(res.text).toContain('# TYPE promptmill_run_dispatch_total counter');
  expect(metricValue(res.text, 'started')).toBeGreaterThan(0);
});
