// The chain workflow on the time-skipping test server, with fake activities: parallel steps,
// references, onError, retries under skipped time, and cancellation.
import { ApplicationFailure } from '@temporalio/common';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chainInput, fakeChainActivities, runChain, step } from '../../test/chain-env.ts';
import { reply, startWorkflowTestEnv, untilCanceled, type WorkflowTestEnv } from '../../test/workflow-env.ts';

let t: WorkflowTestEnv;
beforeAll(async () => {
  t = await startWorkflowTestEnv();
}, 120_000);
afterAll(async () => {
  await t?.env.teardown();
});

const contentOf = (req: { messages: { content: string }[] }) => req.messages[0]?.content ?? '';

describe('chain workflow', () => {
  it('starts independent steps together (each waits for the other) and the join after both', async () => {
    const arrived = new Set<string>();
    let bothArrived: () => void = () => {};
    const barrier = new Promise<void>((r) => {
      bothArrived = r;
    });
    const { activities, record } = fakeChainActivities(async (id, req) => {
      if (id === 'a' || id === 'b') {
        arrived.add(id);
        if (arrived.size === 2) bothArrived();
        // would never resolve if a and b ran one after the other
        await barrier;
      }
      return reply(req.model, `out-${id}[${contentOf(req)}]`);
    });
    const out = await runChain(
      t,
      activities,
      chainInput(
        'wfr_parallel',
        [
          step('a', { variables: { v: '{{input.topic}}' } }),
          step('b'),
          step('c', { dependsOn: ['a', 'b'], variables: { x: '{{steps.a.output}}|{{steps.b.output}}' } }),
        ],
        { input: { topic: 'owls' } },
      ),
    );
    expect(out.status).toBe('succeeded');
    expect(
      record.started
        .map((s) => s.step.id)
        .slice(0, 2)
        .sort(),
    ).toEqual(['a', 'b']);
    expect(record.started[2]?.step.id).toBe('c');
    expect(record.started[2]?.variables).toEqual({
      x: 'out-a[step:a {"v":"owls"}]|out-b[step:b {}]',
    });
    expect(out.output).toMatch(/^out-c\[/);
    expect(record.finished).toEqual([
      expect.objectContaining({ chainRunId: 'wfr_parallel', status: 'succeeded', output: out.output }),
    ]);
  });

  it('passes a JSON value as is with .json.<path>; a bad path fails the reading step', async () => {
    const { activities, record } = fakeChainActivities(async (id, req) =>
      reply(req.model, id === 'src' ? '{"items":["x","y"],"n":{"k":7}}' : `done-${id}`),
    );
    const out = await runChain(
      t,
      activities,
      chainInput('wfr_json', [
        step('src', { isJsonRead: true }),
        step('list', {
          dependsOn: ['src'],
          variables: { items: '{{steps.src.json.items}}', k: 'k={{steps.src.json.n.k}}' },
        }),
        step('bad', { dependsOn: ['src'], onError: 'continue', variables: { v: '{{steps.src.json.nope}}' } }),
      ]),
    );
    expect(record.started.find((s) => s.step.id === 'list')?.variables).toEqual({
      items: ['x', 'y'],
      k: 'k=7',
    });
    expect(record.recorded.find((r) => r.stepId === 'bad')).toMatchObject({
      runId: null,
      status: 'failed',
      error: { code: 'INVALID_STEP_OUTPUT' },
    });
    expect(out.status).toBe('succeeded');
  });

  it('onError fail: the chain fails and the dependent step never starts', async () => {
    const { activities, record } = fakeChainActivities(async (id, req) => {
      if (id === 'a')
        throw ApplicationFailure.create({
          type: 'PROVIDER_REJECTED',
          message: 'rejected',
          nonRetryable: true,
        });
      return reply(req.model);
    });
    const out = await runChain(
      t,
      activities,
      chainInput('wfr_fail', [step('a'), step('b', { dependsOn: ['a'] })]),
    );
    expect(out.status).toBe('failed');
    expect(out.error).toMatchObject({ code: 'PROVIDER_REJECTED' });
    expect(record.started.map((s) => s.step.id)).toEqual(['a']);
    expect(record.finished[0]).toMatchObject({ status: 'failed' });
  });

  it("retries a step's provider calls on the run's schedule (minutes of backoff, skipped)", async () => {
    const { activities, run } = fakeChainActivities(async (_id, req, attempt) => {
      if (attempt < 3) throw ApplicationFailure.create({ type: 'PROVIDER_ERROR', message: '503' });
      return reply(req.model);
    });
    const started = Date.now();
    const out = await runChain(
      t,
      activities,
      chainInput('wfr_retry', [step('a')], { retry: { maxAttempts: 3, initialIntervalMs: 60_000 } }),
    );
    expect(out.status).toBe('succeeded');
    expect(run.calls.map((c) => c.attempt)).toEqual([1, 2, 3]);
    // 60 s + 120 s of backoff took far less wall time: the test server skipped it
    expect(Date.now() - started).toBeLessThan(60_000);
  });

  it('cancel: the running step is canceled, the waiting one too, and the chain records canceled', async () => {
    let started: () => void = () => {};
    const callStarted = new Promise<void>((r) => {
      started = r;
    });
    const slow = untilCanceled(started, () => {});
    const { activities, record } = fakeChainActivities(async (id, req) =>
      id === 'a' ? slow() : reply(req.model),
    );
    const out = await runChain(
      t,
      activities,
      chainInput('wfr_cancel', [step('a'), step('b', { dependsOn: ['a'] })]),
      async (workflowId) => {
        await callStarted;
        await t.env.client.workflow.getHandle(workflowId).cancel();
      },
    );
    expect(out.status).toBe('canceled');
    expect(record.started.map((s) => s.step.id)).toEqual(['a']);
    expect(record.recorded.find((r) => r.stepId === 'a')?.runId).toMatch(/^run_/);
    expect(record.finished[0]).toMatchObject({ status: 'canceled', error: { code: 'RUN_CANCELED' } });
  });
});
