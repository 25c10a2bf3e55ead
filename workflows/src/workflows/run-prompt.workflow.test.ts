// Workflow logic of runPromptWorkflow on the Temporal time-skipping test server, with plain-function
// activities (no module mocking): retry schedule, non-retryable failures, fallbacks, cancellation,
// and who records the completion (the successful call itself, else completeRun).
import { ApplicationFailure } from '@temporalio/common';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  fakeActivities,
  workflowInput as input,
  reply,
  runWorkflow,
  startWorkflowTestEnv,
  untilCanceled,
  type WorkflowTestEnv,
} from '../../test/workflow-env.ts';

let t: WorkflowTestEnv;

beforeAll(async () => {
  t = await startWorkflowTestEnv();
}, 120_000);

afterAll(async () => {
  await t?.env.teardown();
});

const retryable = (message: string) => ApplicationFailure.create({ type: 'PROVIDER_ERROR', message });

describe('runPromptWorkflow', () => {
  it('calls the model once and records a succeeded run in that one activity (no completeRun)', async () => {
    const acts = fakeActivities(async (req) => reply(req.model));
    const wfInput = input({ mode: 'stream', cacheKey: 'ck_1', cacheTtlSeconds: 60 });
    const before = Date.now();
    const outcome = await runWorkflow(t, acts, wfInput);

    expect(outcome).toMatchObject({
      runId: wfInput.runId,
      status: 'succeeded',
      output: 'hello from model-a',
      model: 'model-a',
      usage: { promptTokens: 5, completionTokens: 3, totalTokens: 8, cost: 0.000011 },
      attempts: 1,
      error: null,
    });
    expect(acts.recorded.calls).toEqual([{ model: 'model-a', modelIndex: 0, attempt: 1, mode: 'stream' }]);
    expect(acts.recorded.completedBy).toEqual(['callModel']);
    expect(acts.recorded.completions).toHaveLength(1);
    expect(acts.recorded.completions[0]).toMatchObject({
      runId: wfInput.runId,
      promptName: 'greeting',
      status: 'succeeded',
      output: 'hello from model-a',
      model: 'model-a',
      errorCode: null,
      errorMessage: null,
      cacheKey: 'ck_1',
      cacheTtlSeconds: 60,
    });
    // measured from the workflow's start (handed to the call as completeOnSuccess.startedAt)
    const latency = acts.recorded.completions[0]?.latencyMs ?? -1;
    expect(latency).toBeGreaterThanOrEqual(0);
    expect(latency).toBeLessThanOrEqual(Date.now() - before);
  });

  it('a worker that does not complete on success (older code) gets the run completed by completeRun', async () => {
    const acts = fakeActivities(async (req) => reply(req.model), { ignoreCompleteOnSuccess: true });
    const wfInput = input({ cacheKey: 'ck_2', cacheTtlSeconds: 30 });
    const outcome = await runWorkflow(t, acts, wfInput);

    expect(outcome).toMatchObject({ status: 'succeeded', output: 'hello from model-a', attempts: 1 });
    expect(acts.recorded.completedBy).toEqual(['completeRun']);
    expect(acts.recorded.completions[0]).toMatchObject({
      status: 'succeeded',
      output: 'hello from model-a',
      cacheKey: 'ck_2',
      cacheTtlSeconds: 30,
    });
  });

  it('an outcome recorded earlier stands: the workflow returns it, not its own', async () => {
    // e.g. the call's success was committed just before a cancellation reached the workflow
    const acts = fakeActivities(
      async () => {
        throw ApplicationFailure.create({
          type: 'PROVIDER_REJECTED',
          message: 'HTTP 400',
          nonRetryable: true,
        });
      },
      { alreadyCompleted: { status: 'succeeded', output: 'earlier answer', model: 'model-a', error: null } },
    );
    const outcome = await runWorkflow(t, acts, input());

    expect(acts.recorded.completedBy).toEqual(['completeRun']);
    expect(acts.recorded.completions[0]).toMatchObject({ status: 'failed', errorCode: 'PROVIDER_REJECTED' });
    expect(outcome).toMatchObject({ status: 'succeeded', output: 'earlier answer', error: null });
  });

  it('a call that finds the run completed (a repeated call after a crash) reports that outcome', async () => {
    const acts = fakeActivities(async (req) => reply(req.model), {
      alreadyCompleted: {
        status: 'failed',
        output: null,
        model: 'model-a',
        error: { code: 'PROVIDER_ERROR', message: "Model 'model-a' call failed" },
      },
    });
    const outcome = await runWorkflow(t, acts, input());

    expect(acts.recorded.completedBy).toEqual(['callModel']);
    expect(outcome).toMatchObject({
      status: 'failed',
      output: null,
      error: { code: 'PROVIDER_ERROR', message: "Model 'model-a' call failed" },
    });
  });

  it('retries a retryable failure on the same model and then succeeds', async () => {
    const acts = fakeActivities(async (req, attempt) => {
      if (attempt < 3) throw retryable(`HTTP 500 on attempt ${attempt}`);
      return reply(req.model);
    });
    const outcome = await runWorkflow(t, acts, input({ retry: { maxAttempts: 3, initialIntervalMs: 10 } }));

    expect(outcome.status).toBe('succeeded');
    expect(acts.recorded.calls.map((c) => [c.model, c.attempt])).toEqual([
      ['model-a', 1],
      ['model-a', 2],
      ['model-a', 3],
    ]);
    expect(acts.recorded.completions.map((c) => c.status)).toEqual(['succeeded']);
    expect(acts.recorded.completedBy).toEqual(['callModel']);
  });

  it('waits out a long backoff on workflow time (skipped), not wall time', async () => {
    // Backoffs above the local activity's localRetryThreshold (10 s) become workflow timers,
    // which the test server skips: 20 s + 40 s of backoff pass in well under a second of wall time.
    // (completeRun measures latency on workflow time; a call completing the run measures it on the
    // worker's clock, which the test server does not skip: so completeRun here)
    const acts = fakeActivities(
      async (req, attempt) => {
        if (attempt < 3) throw retryable(`HTTP 503 on attempt ${attempt}`);
        return reply(req.model);
      },
      { ignoreCompleteOnSuccess: true },
    );
    const wallStart = Date.now();
    const skewBefore = (await t.env.currentTimeMs()) - Date.now();
    const outcome = await runWorkflow(
      t,
      acts,
      input({ retry: { maxAttempts: 3, initialIntervalMs: 20_000 } }),
    );
    const skipped = (await t.env.currentTimeMs()) - Date.now() - skewBefore;

    expect(outcome.status).toBe('succeeded');
    expect(acts.recorded.calls.map((c) => c.attempt)).toEqual([1, 2, 3]);
    // (measured through two RPCs to the test server, so a few ms of jitter either way)
    expect(skipped).toBeGreaterThanOrEqual(59_000);
    expect(Date.now() - wallStart).toBeLessThan(15_000);
    // the recorded latency is workflow time, so it includes the skipped backoff
    expect(acts.recorded.completions[0]?.latencyMs).toBeGreaterThanOrEqual(60_000);
  });

  it('stops at once on a non-retryable failure, without trying the fallback models', async () => {
    const acts = fakeActivities(async (req) => {
      throw ApplicationFailure.create({
        type: 'PROVIDER_REJECTED',
        message: `Model '${req.model}' failed with HTTP 400: bad request`,
        nonRetryable: true,
      });
    });
    const outcome = await runWorkflow(t, acts, input({ fallbackModels: ['model-b'] }));

    expect(acts.recorded.calls).toHaveLength(1);
    expect(outcome.status).toBe('failed');
    expect(outcome.error).toEqual({
      code: 'PROVIDER_REJECTED',
      message: "Model 'model-a' failed with HTTP 400: bad request",
    });
    expect(acts.recorded.completions[0]).toMatchObject({
      status: 'failed',
      errorCode: 'PROVIDER_REJECTED',
      output: null,
    });
  });

  it('does not retry or fall back after a stream broke mid-way', async () => {
    const acts = fakeActivities(async () => {
      throw ApplicationFailure.create({
        type: 'STREAM_BROKEN',
        message: 'The provider stream broke after 3 chunks',
        nonRetryable: true,
      });
    });
    const outcome = await runWorkflow(t, acts, input({ mode: 'stream', fallbackModels: ['model-b'] }));

    expect(acts.recorded.calls).toHaveLength(1);
    expect(outcome).toMatchObject({
      status: 'failed',
      error: { code: 'STREAM_BROKEN', message: 'The provider stream broke after 3 chunks' },
    });
    expect(acts.recorded.completions[0]?.errorCode).toBe('STREAM_BROKEN');
  });

  it('falls back to the next model once the first one has used up its attempts', async () => {
    const acts = fakeActivities(async (req) => {
      if (req.model === 'model-a') throw retryable('HTTP 429 rate limited');
      return reply(req.model);
    });
    const outcome = await runWorkflow(
      t,
      acts,
      input({ fallbackModels: ['model-b'], retry: { maxAttempts: 2, initialIntervalMs: 10 } }),
    );

    expect(acts.recorded.calls.map((c) => [c.model, c.modelIndex, c.attempt])).toEqual([
      ['model-a', 0, 1],
      ['model-a', 0, 2],
      ['model-b', 1, 1],
    ]);
    expect(outcome).toMatchObject({ status: 'succeeded', model: 'model-b', output: 'hello from model-b' });
    expect(acts.recorded.completions[0]).toMatchObject({ status: 'succeeded', model: 'model-b' });
  });

  it('fails with the last error when every model is exhausted', async () => {
    const acts = fakeActivities(async (req, attempt) => {
      throw retryable(`Model '${req.model}' failed with HTTP 500 (attempt ${attempt})`);
    });
    const outcome = await runWorkflow(
      t,
      acts,
      input({ fallbackModels: ['model-b'], retry: { maxAttempts: 2, initialIntervalMs: 10 } }),
    );

    expect(acts.recorded.calls).toHaveLength(4);
    expect(outcome).toMatchObject({
      status: 'failed',
      output: null,
      model: 'model-a',
      error: { code: 'PROVIDER_ERROR', message: "Model 'model-b' failed with HTTP 500 (attempt 2)" },
    });
    expect(acts.recorded.completions).toHaveLength(1);
    expect(acts.recorded.completedBy).toEqual(['completeRun']);
    expect(acts.recorded.completions[0]).toMatchObject({ status: 'failed', errorCode: 'PROVIDER_ERROR' });
  });

  it('an error the activity did not expect (a database host, a stack) becomes a fixed message', async () => {
    const acts = fakeActivities(async () => {
      throw new Error('connect ECONNREFUSED 10.9.8.7:5432 (postgres://promptmill:hunter2@db)');
    });
    const outcome = await runWorkflow(t, acts, input({ retry: { maxAttempts: 2, initialIntervalMs: 10 } }));

    expect(outcome).toMatchObject({
      status: 'failed',
      error: { code: 'PROVIDER_ERROR', message: "Model 'model-a' call failed" },
    });
    expect(acts.recorded.completions[0]).toMatchObject({
      errorCode: 'PROVIDER_ERROR',
      errorMessage: "Model 'model-a' call failed",
    });
  });

  it('cancels the running model call and records the run as canceled', async () => {
    let started: () => void = () => {};
    const callStarted = new Promise<void>((resolve) => {
      started = resolve;
    });
    let sawAbort = false;
    const acts = fakeActivities(
      untilCanceled(started, () => {
        sawAbort = true;
      }),
    );
    const outcome = await runWorkflow(t, acts, input({ mode: 'stream' }), async (workflowId) => {
      await callStarted;
      await t.env.client.workflow.getHandle(workflowId).cancel();
    });

    expect(sawAbort).toBe(true);
    expect(acts.recorded.calls).toHaveLength(1);
    expect(outcome).toMatchObject({
      status: 'canceled',
      output: null,
      error: { code: 'RUN_CANCELED', message: 'Run was canceled' },
    });
    expect(acts.recorded.completions).toHaveLength(1);
    expect(acts.recorded.completedBy).toEqual(['completeRun']);
    expect(acts.recorded.completions[0]).toMatchObject({ status: 'canceled', errorCode: 'RUN_CANCELED' });
  });
});
