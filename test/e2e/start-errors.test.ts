// Workflow starts that Temporal refuses (hardening item 4): a refusal retrying cannot fix (payload
// over the server's blob limit, unknown namespace, invalid argument) fails the run at once with a
// clear code; only unavailability is retried (the claim is given back for a sweeper). Driven against
// the e2e stack's real Temporal dev server, with the dispatcher and the sync start called directly
// (the api refuses over-large prompts before any run exists, so these inputs cannot come through it).

import { Client, Connection } from '@temporalio/client';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { AppError } from '../../api/src/http/app-error.ts';
import {
  createDispatchStore,
  createRunDispatcher,
  type DispatchOutcome,
  type RunDispatcher,
} from '../../api/src/runs/dispatch/index.ts';
import { startRunWorkflow, startRunWorkflowOnce } from '../../api/src/runs/run-workflow.ts';
import type { TemporalHandle } from '../../api/src/temporal.ts';
import { insertRun } from '../../infra/src/db/index.ts';
import { newId } from '../../infra/src/ids.ts';
import { TASK_QUEUE } from '../../workflows/src/contracts/run.ts';
import type { RunPromptWorkflowInput } from '../../workflows/src/workflows/run-prompt.workflow.ts';
import { call, createOrg, createPrompt, type TestOrg, unique } from './helpers.ts';
import { type RunBody, testSql } from './runs-support.ts';

const sql = testSql();

const connections: Connection[] = [];
const dispatchers: RunDispatcher[] = [];
afterAll(async () => {
  await Promise.all(dispatchers.map((d) => d.stop(2_000)));
  await Promise.all(connections.map((c) => c.close()));
});

/** A Temporal handle on the stack's dev server, in `namespace`. */
async function temporalIn(namespace = 'default'): Promise<TemporalHandle> {
  const connection = await Connection.connect({ address: inject('temporalAddress') });
  connections.push(connection);
  return { connection, client: new Client({ connection, namespace }), taskQueue: TASK_QUEUE };
}

/** Nothing listens there; no retry interceptor, so UNAVAILABLE comes back at once. */
function unreachableTemporal(): TemporalHandle {
  const connection = Connection.lazy({ address: '127.0.0.1:9', interceptors: [] });
  connections.push(connection);
  return { connection, client: new Client({ connection }), taskQueue: TASK_QUEUE };
}

let org: TestOrg;
let name: string;
let marker: string;
beforeAll(async () => {
  org = await createOrg({ plan: 'enterprise', limits: { perMinute: 100_000, perDay: 1_000_000 } });
  marker = unique('start');
  name = await createPrompt(org.key, { template: `${marker} {{x}}` });
});

/** A queued async run committed as POST /v1/runs would, with `text` as its only message. */
async function queueRun(text: string, mode: 'async' | 'sync' = 'async'): Promise<RunPromptWorkflowInput> {
  const [p] = await sql<{ promptId: string; versionId: string }[]>`
    SELECT p.id AS "promptId", v.id AS "versionId"
    FROM prompts p JOIN prompt_versions v ON v.prompt_id = p.id AND v.version = 1
    WHERE p.org_id = ${org.orgId} AND p.name = ${name}`;
  if (!p) throw new Error(`no prompt ${name}`);
  const runId = newId('run');
  const input: RunPromptWorkflowInput = {
    runId,
    orgId: org.orgId,
    keyId: org.keyId,
    promptId: p.promptId,
    promptName: name,
    promptVersion: 1,
    versionId: p.versionId,
    model: 'mock-1',
    fallbackModels: [],
    messages: [{ role: 'user', content: text }],
    params: {},
    mode,
    retry: { maxAttempts: 3, initialIntervalMs: 50 },
  };
  const inserted = await insertRun(sql, {
    id: runId,
    orgId: org.orgId,
    keyId: org.keyId,
    promptId: p.promptId,
    versionId: p.versionId,
    promptVersion: 1,
    mode,
    variables: {},
    metadata: null,
    webhookUrl: null,
    model: 'mock-1',
    idempotencyKey: unique('idem'),
    requestHash: 'x',
    workflowInput: mode === 'async' ? input : null,
  });
  if (!inserted) throw new Error('run not inserted');
  return input;
}

interface Row {
  status: string;
  errorCode: string | null;
  errorMessage: string | null;
  dispatchedAt: Date | null;
  idempotencyKey: string | null;
  hasWorkflowInput: boolean;
}
async function rowOf(id: string): Promise<Row> {
  const [row] = await sql<Row[]>`
    SELECT status, error_code AS "errorCode", error_message AS "errorMessage", dispatched_at AS "dispatchedAt",
           idempotency_key AS "idempotencyKey", workflow_input IS NOT NULL AS "hasWorkflowInput"
    FROM runs WHERE id = ${id}`;
  if (!row) throw new Error(`no run ${id}`);
  return row;
}

function dispatcherOn(temporal: TemporalHandle, counts: Record<string, number>, logged: string[]) {
  const d = createRunDispatcher({
    // a give-up far away: a retried run must stay queued for the sweepers
    store: createDispatchStore(sql, { minAgeSeconds: 5, staleClaimSeconds: 30, giveUpSeconds: 600 }),
    start: (input) => startRunWorkflowOnce(temporal, input),
    logger: {
      info: () => {},
      warn: (_o: unknown, msg?: string) => void logged.push(`warn ${msg}`),
      error: (_o: unknown, msg?: string) => void logged.push(`error ${msg}`),
    },
    count: (o: DispatchOutcome, n: number) => {
      counts[o] = (counts[o] ?? 0) + n;
    },
    concurrency: 2,
    flushIntervalMs: 10,
    maxBatch: 10,
    maxQueued: 10,
    sweepIntervalMs: 0,
    sweepBatch: 10,
  });
  dispatchers.push(d);
  return d;
}

const over2MB = () => `${marker} ${'x'.repeat(2_500_000)}`;

describe('the dispatcher: a start retrying cannot fix fails the run at once', () => {
  it('a payload over the server blob limit: failed PROMPT_TOO_LARGE after one attempt, key freed, never started', async () => {
    const temporal = await temporalIn();
    const counts: Record<string, number> = {};
    const logged: string[] = [];
    const d = dispatcherOn(temporal, counts, logged);
    const input = await queueRun(over2MB());
    const t0 = Date.now();
    d.dispatch(input);
    await d.whenSettled(input.runId);
    expect(counts).toEqual({ refused: 1 });
    expect(Date.now() - t0).toBeLessThan(5_000);
    expect(await rowOf(input.runId)).toMatchObject({
      status: 'failed',
      errorCode: 'PROMPT_TOO_LARGE',
      errorMessage: 'The run could not be started: its input is larger than the workflow service accepts',
      idempotencyKey: null,
      hasWorkflowInput: false,
    });
    expect(logged.some((l) => l.startsWith('error run dispatch: workflow start refused'))).toBe(true);
    const res = await call<{ data: RunBody }>('GET', `/v1/runs/${input.runId}`, { key: org.key });
    expect(res.body.data).toMatchObject({
      status: 'failed',
      attempts: 0,
      error: { code: 'PROMPT_TOO_LARGE' },
    });
  });

  it('an unknown namespace: failed INTERNAL_ERROR at once, naming the cause without the server text', async () => {
    const temporal = await temporalIn(unique('no-such-namespace'));
    const counts: Record<string, number> = {};
    const d = dispatcherOn(temporal, counts, []);
    const input = await queueRun(`${marker} nowhere`);
    d.dispatch(input);
    await d.whenSettled(input.runId);
    expect(counts).toEqual({ refused: 1 });
    expect(await rowOf(input.runId)).toMatchObject({
      status: 'failed',
      errorCode: 'INTERNAL_ERROR',
      errorMessage: 'The run could not be started: the workflow service refused it (namespace not found)',
    });
  });

  it('unavailable: retried — the claim is given back and the run stays queued for a sweeper', async () => {
    const counts: Record<string, number> = {};
    const d = dispatcherOn(unreachableTemporal(), counts, []);
    const input = await queueRun(`${marker} later`);
    d.dispatch(input);
    await d.whenSettled(input.runId);
    expect(counts).toEqual({ error: 1 });
    await expect.poll(async () => (await rowOf(input.runId)).dispatchedAt).toBeNull();
    expect(await rowOf(input.runId)).toMatchObject({
      status: 'queued',
      errorCode: null,
      hasWorkflowInput: true,
    });
    // done with it: a cancel before dispatch ends it without a start
    const cancel = await call('POST', `/v1/runs/${input.runId}/cancel`, { key: org.key });
    expect(cancel.status).toBe(200);
  });
});

describe('sync and streaming starts', () => {
  const handedOver: string[] = [];
  const depsOf = (temporal: TemporalHandle) =>
    ({
      sql,
      temporal,
      dispatcher: { dispatch: (input: RunPromptWorkflowInput) => void handedOver.push(input.runId) },
    }) as unknown as Parameters<typeof startRunWorkflow>[0];

  it('refused as too large: the run fails and the caller gets 413 PROMPT_TOO_LARGE, not 503 "try again"', async () => {
    const input = await queueRun(over2MB(), 'sync');
    const err = await startRunWorkflow(depsOf(await temporalIn()), input).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AppError);
    expect(err).toMatchObject({ code: 'PROMPT_TOO_LARGE', status: 413, extra: { runId: input.runId } });
    expect(await rowOf(input.runId)).toMatchObject({ status: 'failed', errorCode: 'PROMPT_TOO_LARGE' });
  });

  it('unavailable: not failed — 503 SERVICE_UNAVAILABLE, the run joins the outbox (run-start.test.ts has more)', async () => {
    const input = await queueRun(`${marker} sync-later`, 'sync');
    const err = await startRunWorkflow(depsOf(unreachableTemporal()), input).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'SERVICE_UNAVAILABLE', status: 503 });
    expect(handedOver).toContain(input.runId);
    expect(await rowOf(input.runId)).toMatchObject({
      status: 'queued',
      errorCode: null,
      hasWorkflowInput: true,
    });
    // done with it: a cancel before dispatch ends it without a start
    expect((await call('POST', `/v1/runs/${input.runId}/cancel`, { key: org.key })).status).toBe(200);
  });
});
