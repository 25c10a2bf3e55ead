import { describe, expect, it } from 'vitest';
import { ERROR_TABLE, type ErrorCode, NON_RETRYABLE_CODES } from './errors.ts';
import {
  type AttemptState,
  type CallFailure,
  callModelRetryOptions,
  FIRST_ATTEMPT,
  isFinalFailure,
  MAX_RETRY_AFTER_MS,
  modelsInOrder,
  nextAttempt,
  RETRY_MAX_INTERVAL_MS,
  type RunRetryPolicy,
  retryDelayMs,
} from './run-policy.ts';

const retry: RunRetryPolicy = { maxAttempts: 3, initialIntervalMs: 500 };
const providerError: CallFailure = { code: 'PROVIDER_ERROR' };

/** Every call a run makes when each call fails with `failureOf(state)`, and the waits before them. */
function simulate(
  policy: { retry: RunRetryPolicy; modelCount: number },
  failureOf: (s: AttemptState) => CallFailure,
): { calls: AttemptState[]; waits: number[] } {
  const calls: AttemptState[] = [];
  const waits: number[] = [];
  let state: AttemptState | undefined = FIRST_ATTEMPT;
  while (state) {
    calls.push(state);
    const next = nextAttempt(policy, state, failureOf(state));
    if (next.kind === 'stop') break;
    waits.push(next.kind === 'retry' ? next.delayMs : 0);
    state = next.state;
  }
  return { calls, waits };
}

describe('nextAttempt', () => {
  it('retries a retryable failure with doubling waits, then falls back model by model, then stops', () => {
    const { calls, waits } = simulate({ retry, modelCount: 2 }, () => providerError);
    expect(calls).toEqual([
      { modelIndex: 0, attempt: 1 },
      { modelIndex: 0, attempt: 2 },
      { modelIndex: 0, attempt: 3 },
      { modelIndex: 1, attempt: 1 },
      { modelIndex: 1, attempt: 2 },
      { modelIndex: 1, attempt: 3 },
    ]);
    expect(waits).toEqual([500, 1000, 0, 500, 1000]);
  });

  it.each(['PROVIDER_REJECTED', 'STREAM_BROKEN', 'RUN_CANCELED'] as const)(
    '%s ends the run at once: no retry, no fallback',
    (code) => {
      expect(nextAttempt({ retry, modelCount: 3 }, FIRST_ATTEMPT, { code })).toEqual({ kind: 'stop' });
    },
  );

  it('a Retry-After replaces the backoff, capped at the maximum', () => {
    const policy = { retry, modelCount: 1 };
    expect(nextAttempt(policy, FIRST_ATTEMPT, { code: 'PROVIDER_ERROR', retryAfterMs: 2_000 })).toEqual({
      kind: 'retry',
      delayMs: 2_000,
      state: { modelIndex: 0, attempt: 2 },
    });
    const long = nextAttempt(policy, FIRST_ATTEMPT, { code: 'PROVIDER_ERROR', retryAfterMs: 3_600_000 });
    expect(long).toMatchObject({ kind: 'retry', delayMs: MAX_RETRY_AFTER_MS });
    const negative = nextAttempt(policy, FIRST_ATTEMPT, { code: 'PROVIDER_ERROR', retryAfterMs: -5 });
    expect(negative).toMatchObject({ kind: 'retry', delayMs: 0 });
  });

  it('one attempt per model: straight to the fallback, then stop', () => {
    const policy = { retry: { maxAttempts: 1, initialIntervalMs: 10 }, modelCount: 2 };
    expect(nextAttempt(policy, FIRST_ATTEMPT, providerError)).toEqual({
      kind: 'fallback',
      state: { modelIndex: 1, attempt: 1 },
    });
    expect(nextAttempt(policy, { modelIndex: 1, attempt: 1 }, providerError)).toEqual({ kind: 'stop' });
  });

  it('backoff never exceeds the maximum interval', () => {
    const slow = { maxAttempts: 20, initialIntervalMs: 10_000 };
    expect(retryDelayMs(slow, 1)).toBe(10_000);
    expect(retryDelayMs(slow, 3)).toBe(40_000);
    expect(retryDelayMs(slow, 4)).toBe(RETRY_MAX_INTERVAL_MS);
    expect(retryDelayMs(slow, 19)).toBe(RETRY_MAX_INTERVAL_MS);
  });

  it('tries the version model first, then its fallbacks in order', () => {
    expect(modelsInOrder('a', ['b', 'c'])).toEqual(['a', 'b', 'c']);
  });
});

describe('the Temporal retry options are the same policy', () => {
  /** Temporal's documented schedule: wait initialInterval × coefficient^(n-1), at most maximumInterval. */
  const temporalWait = (o: ReturnType<typeof callModelRetryOptions>, attempt: number) =>
    Math.min(o.initialInterval * o.backoffCoefficient ** (attempt - 1), o.maximumInterval);

  it.each([
    { maxAttempts: 4, initialIntervalMs: 500 },
    { maxAttempts: 3, initialIntervalMs: 50 },
    { maxAttempts: 10, initialIntervalMs: 7_000 },
    { maxAttempts: 1, initialIntervalMs: 1 },
  ])('attempts and waits for %o', (policy) => {
    const options = callModelRetryOptions(policy);
    const { calls, waits } = simulate({ retry: policy, modelCount: 1 }, () => providerError);
    expect(calls).toHaveLength(options.maximumAttempts);
    expect(waits).toEqual(calls.slice(1).map((_, i) => temporalWait(options, i + 1)));
  });

  it('the codes Temporal does not retry are exactly those that stop the policy', () => {
    const options = callModelRetryOptions(retry);
    const codes = Object.keys(ERROR_TABLE) as ErrorCode[];
    expect(new Set(options.nonRetryableErrorTypes)).toEqual(new Set(NON_RETRYABLE_CODES));
    for (const code of codes) {
      expect(options.nonRetryableErrorTypes.includes(code)).toBe(isFinalFailure(code));
    }
  });
});
