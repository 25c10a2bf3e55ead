// The run workflow follows the one retry and fallback policy (contracts/run-policy.ts) that the api's
// direct mode loops with: the same calls, in the same order, after the same waits.
import { ApplicationFailure } from '@temporalio/common';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  fakeActivities,
  workflowInput as input,
  reply,
  runWorkflow,
  startWorkflowTestEnv,
  type WorkflowTestEnv,
} from '../../test/workflow-env.ts';
import type { ErrorCode } from '../contracts/errors.ts';
import { type AttemptState, type CallFailure, FIRST_ATTEMPT, nextAttempt } from '../contracts/run-policy.ts';

let t: WorkflowTestEnv;

beforeAll(async () => {
  t = await startWorkflowTestEnv();
}, 120_000);

afterAll(async () => {
  await t?.env.teardown();
});

/** The failure of each call, by model and attempt; a call with none succeeds. */
type Script = Record<string, (CallFailure & { code: ErrorCode }) | undefined>;
const key = (s: AttemptState) => `${s.modelIndex}:${s.attempt}`;

function policyCalls(
  script: Script,
  retry: { maxAttempts: number; initialIntervalMs: number },
  models: number,
) {
  const calls: { state: AttemptState; waitMs: number }[] = [];
  let state: AttemptState | undefined = FIRST_ATTEMPT;
  let waitMs = 0;
  while (state) {
    calls.push({ state, waitMs });
    const failure = script[key(state)];
    if (!failure) break;
    const next = nextAttempt({ retry, modelCount: models }, state, failure);
    if (next.kind === 'stop') break;
    waitMs = next.kind === 'retry' ? next.delayMs : 0;
    state = next.state;
  }
  return calls;
}

describe('runPromptWorkflow follows the run policy', () => {
  it('retries, honours Retry-After, falls back and stops where the policy does', async () => {
    const retry = { maxAttempts: 3, initialIntervalMs: 100 };
    const models = ['model-a', 'model-b', 'model-c'];
    const script: Script = {
      '0:1': { code: 'PROVIDER_ERROR' },
      '0:2': { code: 'PROVIDER_ERROR' },
      '0:3': { code: 'PROVIDER_ERROR' },
      '1:1': { code: 'PROVIDER_ERROR', retryAfterMs: 400 },
      '1:2': { code: 'PROVIDER_REJECTED' },
    };
    const at: number[] = [];
    const acts = fakeActivities(async (req, attempt) => {
      at.push(performance.now());
      const failure = script[`${req.modelIndex}:${attempt}`];
      if (!failure) return reply(req.model);
      throw ApplicationFailure.create({
        type: failure.code,
        message: `scripted ${failure.code}`,
        nonRetryable: failure.code === 'PROVIDER_REJECTED',
        ...(failure.retryAfterMs !== undefined ? { nextRetryDelay: failure.retryAfterMs } : {}),
      });
    });
    const outcome = await runWorkflow(
      t,
      acts,
      input({ model: models[0]!, fallbackModels: models.slice(1), retry }),
    );

    const expected = policyCalls(script, retry, models.length);
    expect(acts.recorded.calls.map((c) => ({ modelIndex: c.modelIndex, attempt: c.attempt }))).toEqual(
      expected.map((c) => c.state),
    );
    expect(outcome.status).toBe('failed');
    expect(outcome.error?.code).toBe('PROVIDER_REJECTED');
    // the waits between calls (local retries below the 10 s threshold are real sleeps in the worker)
    const gaps = at.slice(1).map((t1, i) => t1 - at[i]!);
    expected.slice(1).forEach((c, i) => {
      expect(gaps[i]).toBeGreaterThanOrEqual(c.waitMs - 5);
      expect(gaps[i]).toBeLessThan(c.waitMs + 250);
    });
  });
});
