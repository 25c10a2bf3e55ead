/**
 * The retry and fallback policy of a run's model calls, written once. The run workflow builds the
 * Temporal retry options of its model-call activity from it (callModelRetryOptions); the api's direct
 * mode, which has no Temporal, loops with nextAttempt. Pure and deterministic (no I/O, no clock), so
 * workflow code may import it.
 *
 * - per model: up to `maxAttempts` calls; the first retry waits `initialIntervalMs`, each next one
 *   twice the previous, at most RETRY_MAX_INTERVAL_MS; a provider's Retry-After replaces that wait
 *   (capped at MAX_RETRY_AFTER_MS);
 * - a failure whose code the error table calls non-retryable (a provider's 4xx, a broken stream, a
 *   canceled call) ends the run's calls: no retry, no fallback;
 * - a model whose attempts are used up hands over to the next of [model, ...fallbackModels].
 */
import { type ErrorCode, isRetryableCode, NON_RETRYABLE_CODES } from './errors.ts';

export interface RunRetryPolicy {
  /** calls per model before falling back to the next model (PROVIDER_MAX_ATTEMPTS) */
  maxAttempts: number;
  /** wait before the first retry (PROVIDER_RETRY_INITIAL_MS) */
  initialIntervalMs: number;
}

export const RETRY_BACKOFF_COEFFICIENT = 2;
export const RETRY_MAX_INTERVAL_MS = 60_000;
/** A provider asking for a longer pause (Retry-After) gets this much: the retry policy's own maximum. */
export const MAX_RETRY_AFTER_MS = RETRY_MAX_INTERVAL_MS;

/** The retry options of the model-call activity (Temporal's RetryPolicy shape; durations in ms). */
export interface ModelCallRetryOptions {
  maximumAttempts: number;
  initialInterval: number;
  backoffCoefficient: number;
  maximumInterval: number;
  nonRetryableErrorTypes: string[];
}

export function callModelRetryOptions(retry: RunRetryPolicy): ModelCallRetryOptions {
  return {
    maximumAttempts: retry.maxAttempts,
    initialInterval: retry.initialIntervalMs,
    backoffCoefficient: RETRY_BACKOFF_COEFFICIENT,
    maximumInterval: RETRY_MAX_INTERVAL_MS,
    nonRetryableErrorTypes: [...NON_RETRYABLE_CODES],
  };
}

/** The models a run tries, in order: the version's model, then its fallbacks. */
export function modelsInOrder(model: string, fallbackModels: readonly string[]): string[] {
  return [model, ...fallbackModels];
}

/** Whether a failure of this code ends the run's calls (no retry, no fallback): the error table decides. */
export function isFinalFailure(code: ErrorCode): boolean {
  return !isRetryableCode(code);
}

/** The backoff after the `attempt`-th call (1-based) on a model failed, without a Retry-After. */
export function retryDelayMs(retry: RunRetryPolicy, attempt: number): number {
  const delay = retry.initialIntervalMs * RETRY_BACKOFF_COEFFICIENT ** (attempt - 1);
  return Math.min(delay, RETRY_MAX_INTERVAL_MS);
}

/** Where a run's calls are: the model's position in modelsInOrder and the call number on it (1-based). */
export interface AttemptState {
  modelIndex: number;
  attempt: number;
}

export const FIRST_ATTEMPT: AttemptState = { modelIndex: 0, attempt: 1 };

/** What the policy needs to know about a failed call. */
export interface CallFailure {
  code: ErrorCode;
  /** the provider's requested pause (Retry-After), if it sent one */
  retryAfterMs?: number | undefined;
}

export type NextAttempt =
  /** call the same model again after `delayMs` */
  | { kind: 'retry'; delayMs: number; state: AttemptState }
  /** call the next model now */
  | { kind: 'fallback'; state: AttemptState }
  /** no more calls: the run ends with this failure */
  | { kind: 'stop' };

/** After a failed call: retry, fall back, or stop. */
export function nextAttempt(
  policy: { retry: RunRetryPolicy; modelCount: number },
  state: AttemptState,
  failure: CallFailure,
): NextAttempt {
  if (isFinalFailure(failure.code)) return { kind: 'stop' };
  if (state.attempt < policy.retry.maxAttempts) {
    const delayMs =
      failure.retryAfterMs === undefined
        ? retryDelayMs(policy.retry, state.attempt)
        : Math.min(MAX_RETRY_AFTER_MS, Math.max(0, failure.retryAfterMs));
    return { kind: 'retry', delayMs, state: { modelIndex: state.modelIndex, attempt: state.attempt + 1 } };
  }
  if (state.modelIndex + 1 < policy.modelCount) {
    return { kind: 'fallback', state: { modelIndex: state.modelIndex + 1, attempt: 1 } };
  }
  return { kind: 'stop' };
}
