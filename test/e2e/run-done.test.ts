// A sync run answers as soon as its result is recorded: the transaction that ends a run NOTIFYs
// pm_run_done (migration 012) with the ended row, and the api process waiting for it answers from
// that, not when the workflow completes (the worker's next workflow task, then Temporal recording
// it). The answer is the one the workflow returns; a NOTIFY that never comes is covered by the
// workflow's result.

import { Client, Connection } from '@temporalio/client';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { RunDeps } from '../../api/src/runs/deps.ts';
import type { RunDispatcher } from '../../api/src/runs/dispatch/index.ts';
import { RESULT_POLL_DELAY_MS, waitForOutcome, watchRunDone } from '../../api/src/runs/run-outcome.ts';
import { outcomeError } from '../../api/src/runs/sync-run.ts';
import type { TemporalHandle } from '../../api/src/temporal.ts';
import { completeRun, createSql, findEndedRun, insertRun } from '../../infra/src/db/index.ts';
import { newId } from '../../infra/src/ids.ts';
import { RUN_DONE_CHANNEL, type RunDoneWatch } from '../../infra/src/run-stream/index.ts';
import { endedRunOf } from '../../infra/src/run-stream/run-done.ts';
import { type RunOutcome, TASK_QUEUE } from '../../workflows/src/contracts/run.ts';
import { call, createOrg, createPrompt, mock, type TestOrg, unique } from './helpers.ts';
import type { SyncOk } from './runs-support.ts';

const sql = createSql(inject('databaseUrl'), { max: 3, appName: 'run-done-test' });
let connection: Connection;
let temporal: TemporalHandle;
let org: TestOrg;

beforeAll(async () => {
  connection = await Connection.connect({ address: inject('temporalAddress') });
  temporal = { connection, client: new Client({ connection }), taskQueue: TASK_QUEUE };
  org = await createOrg({ plan: 'enterprise', limits: { perMinute: 100_000, perDay: 1_000_000 } });
});
afterAll(async () => {
  await connection?.close();
  await sql.end();
});

const noDispatch: RunDispatcher = {
  dispatch: () => {},
  whenSettled: () => undefined,
  sweep: async () => 0,
  pending: () => 0,
  stop: async () => {},
};
const depsWith = (t: TemporalHandle): RunDeps => ({
  sql,
  temporal: t,
  retry: { maxAttempts: 3, initialIntervalMs: 50 },
  syncTimeoutMs: 15_000,
  dispatcher: noDispatch,
});

const run = (body: Record<string, unknown>, baseUrl?: string) =>
  call<SyncOk & Record<string, unknown>>('POST', '/api/v1/run', {
    key: org.key,
    body,
    ...(baseUrl ? { baseUrl } : {}),
  });

/** What the run's workflow itself returned. */
const workflowResult = (runId: string) =>
  temporal.client.workflow.getHandle(runId).result() as Promise<RunOutcome>;

describe('a sync run answers from its recorded result', () => {
  it('answers when the completion commits, without the workflow', async () => {
    const name = await createPrompt(org.key, { template: `${unique('row')} {{x}}` });
    const [p] = await sql<{ promptId: string; versionId: string }[]>`
      SELECT p.id AS "promptId", v.id AS "versionId" FROM prompts p JOIN prompt_versions v ON v.prompt_id = p.id
      WHERE p.org_id = ${org.orgId} AND p.name = ${name}`;
    const runId = newId('run');
    const identity = { runId, orgId: org.orgId, keyId: org.keyId, promptId: p!.promptId, promptVersion: 1 };
    await insertRun(sql, {
      id: runId,
      orgId: org.orgId,
      keyId: org.keyId,
      promptId: p!.promptId,
      versionId: p!.versionId,
      promptVersion: 1,
      mode: 'sync',
      variables: { x: '1' },
      metadata: null,
      webhookUrl: null,
      model: 'mock-1',
      idempotencyKey: null,
      requestHash: null,
    });
    // a workflow service that never answers: only the run row can
    let asked = 0;
    const silent = {
      connection,
      taskQueue: TASK_QUEUE,
      client: {
        withAbortSignal: <T>(_signal: AbortSignal, fn: () => T) => fn(),
        workflow: {
          getHandle: () => {
            asked++;
            return { result: () => new Promise(() => {}) };
          },
        },
      },
    } as unknown as TemporalHandle;
    const deps = depsWith(silent);
    const done = await watchRunDone(deps, runId);
    try {
      const waiting = waitForOutcome(deps, runId, 10_000, { done });
      const totals = await completeRun(sql, {
        ...identity,
        status: 'succeeded',
        output: 'recorded',
        model: 'mock-1',
        errorCode: null,
        errorMessage: null,
        latencyMs: 5,
        cacheHit: false,
      });
      const committedAt = Date.now();
      const outcome = await waiting;
      expect(Date.now() - committedAt).toBeLessThan(RESULT_POLL_DELAY_MS);
      expect(outcome).toMatchObject({
        runId,
        status: 'succeeded',
        output: 'recorded',
        model: 'mock-1',
        usage: totals.usage,
        attempts: 0,
        error: null,
      });
      expect(asked).toBe(0);
    } finally {
      done?.release();
    }
  });

  it('the answer is the one the workflow returns: output, model, usage (retried attempts included)', async () => {
    const marker = unique('same');
    const name = await createPrompt(org.key, { template: `${marker} {{x}}` });
    const rule = await mock.addRule({
      match: { contains: marker },
      times: 1,
      action: { type: 'fail', status: 500 },
    });
    try {
      const res = await run({ promptName: name, variables: { x: 'hello' } });
      expect(res.status).toBe(200);
      const outcome = await workflowResult(res.body.runId);
      expect(outcome.attempts).toBe(2);
      expect({ output: res.body.output, model: res.body.model, usage: res.body.usage }).toEqual({
        output: outcome.output,
        model: outcome.model,
        usage: outcome.usage,
      });
    } finally {
      await mock.removeRule(rule);
    }
  });

  it('a failed run: the same error as the workflow’s', async () => {
    const marker = unique('same-fail');
    const name = await createPrompt(org.key, { template: `${marker} {{x}}` });
    const rule = await mock.addRule({ match: { contains: marker }, action: { type: 'fail', status: 400 } });
    try {
      const res = await run({ promptName: name, variables: { x: 'hello' } });
      expect(res.status).toBe(502);
      const runId = String(res.body.runId);
      const expected = outcomeError(await workflowResult(runId));
      expect(res.body).toEqual({
        success: false,
        code: expected.code,
        error: expected.message,
        ...expected.extra,
      });
    } finally {
      await mock.removeRule(rule);
    }
  });

  it('the NOTIFY carries the ended row; an output too big for it carries the id, and the row is read', async () => {
    const payloads: string[] = [];
    const listener = await sql.listen(RUN_DONE_CHANNEL, (p) => payloads.push(p));
    try {
      const small = await run({
        promptName: await createPrompt(org.key, { template: `${unique('n')} {{x}}` }),
        variables: { x: 'a' },
      });
      await expect.poll(() => payloads.some((p) => p.includes(small.body.runId))).toBe(true);
      const smallPayload = payloads.find((p) => p.includes(small.body.runId))!;
      expect(endedRunOf(smallPayload)).toEqual(await findEndedRun(sql, small.body.runId));

      const marker = unique('big');
      const content = 'word '.repeat(2_000);
      const rule = await mock.addRule({ match: { contains: marker }, action: { type: 'reply', content } });
      try {
        const big = await run({
          promptName: await createPrompt(org.key, { template: `${marker} {{x}}` }),
          variables: { x: 'b' },
        });
        expect(big.status).toBe(200);
        expect(big.body.output).toBe(content);
        await expect.poll(() => payloads.includes(big.body.runId)).toBe(true);
      } finally {
        await mock.removeRule(rule);
      }
    } finally {
      await listener.unlisten();
    }
  });

  it('a NOTIFY that never comes: the workflow’s result answers, and waits ask Temporal at once for a while', async () => {
    const res = await call<{ data: { id: string } }>('POST', '/v1/runs', {
      key: org.key,
      body: {
        prompt: await createPrompt(org.key, { template: `${unique('lost')} {{x}}` }),
        variables: { x: 'a' },
      },
    });
    const runId = res.body.data.id;
    let missed = 0;
    const deaf: RunDoneWatch = {
      next: () => new Promise(() => {}),
      release: () => {},
      isReliable: true,
      missed: () => {
        missed++;
      },
    };
    const started = Date.now();
    const outcome = await waitForOutcome(depsWith(temporal), runId, 15_000, { done: deaf });
    expect(outcome).toMatchObject({ runId, status: 'succeeded' });
    expect(Date.now() - started).toBeGreaterThanOrEqual(RESULT_POLL_DELAY_MS - 50);
    expect(missed).toBe(1);
  });
});
