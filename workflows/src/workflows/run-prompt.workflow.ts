import {
  ActivityFailure,
  ApplicationFailure,
  CancellationScope,
  isCancellation,
  proxyLocalActivities,
  TimeoutFailure,
  workflowInfo,
} from '@temporalio/workflow';
import type { RunActivities } from '../contracts/activities.ts';
import { type ErrorCode, isErrorCode } from '../contracts/errors.ts';
import type { ModelCallResult, RunIdentity, RunOutcome, RunPromptInput } from '../contracts/run.ts';
import {
  callModelRetryOptions,
  isFinalFailure,
  modelsInOrder,
  type RunRetryPolicy,
} from '../contracts/run-policy.ts';

export type { RunRetryPolicy };

export interface RunPromptWorkflowInput extends RunPromptInput {
  retry: RunRetryPolicy;
}

/**
 * A failed model call → the run's error. Its message reaches tenants, so only the activity's own
 * failures (an ApplicationFailure typed with an error code: a fixed message per class) keep theirs;
 * anything else (an error the activity did not expect, a timeout) gets a fixed one — its text is in
 * the worker log and the workflow history, for operators.
 */
function failureOf(err: unknown, model: string): { code: ErrorCode; message: string; isFinal: boolean } {
  const cause = err instanceof ActivityFailure ? err.cause : err;
  if (cause instanceof ApplicationFailure && isErrorCode(cause.type)) {
    return { code: cause.type, message: cause.message, isFinal: isFinalFailure(cause.type) };
  }
  const message =
    cause instanceof TimeoutFailure ? `Model '${model}' timed out` : `Model '${model}' call failed`;
  return { code: 'PROVIDER_ERROR', message, isFinal: false };
}

/**
 * One prompt run: call the model (retries per model inside the activity's retry policy, then the
 * fallback models in order), then record the outcome and its usage exactly once.
 * Workflow id = run id, so the Temporal UI shows every run under the id the API returns.
 *
 * On the happy path the successful call records the run's completion itself (completeOnSuccess: one
 * local activity, one history marker, one transaction); failures and cancellations go through
 * completeRun. Whether completeRun is scheduled depends on the call's recorded result (a
 * `completion` in it), not on the code's version, so histories from before (results without one:
 * workflows/test/histories/v1) replay unchanged.
 */
export async function runPromptWorkflow(input: RunPromptWorkflowInput): Promise<RunOutcome> {
  const startedAt = Date.now(); // workflow time: deterministic on replay
  const { callModel } = proxyLocalActivities<RunActivities>({
    startToCloseTimeout: '10 minutes',
    localRetryThreshold: '10 seconds',
    // the one retry policy (contracts/run-policy.ts), which the api's direct mode loops with too
    retry: callModelRetryOptions(input.retry),
  });
  const { completeRun } = proxyLocalActivities<RunActivities>({
    startToCloseTimeout: '30 seconds',
    // recording must not be lost: retried until it lands (Postgres down → the run waits, then completes)
    retry: { initialInterval: '200 ms', maximumInterval: '10 seconds' },
  });

  const identity: RunIdentity = {
    runId: input.runId,
    orgId: input.orgId,
    keyId: input.keyId,
    promptId: input.promptId,
    promptVersion: input.promptVersion,
  };
  const models = modelsInOrder(input.model, input.fallbackModels);
  let result: ModelCallResult | undefined;
  let failure: { code: ErrorCode; message: string } = {
    code: 'PROVIDER_ERROR',
    message: 'No model was called',
  };
  let status: RunOutcome['status'] = 'failed';

  try {
    for (const [modelIndex, model] of models.entries()) {
      try {
        result = await callModel({
          ...identity,
          model,
          modelIndex,
          messages: input.messages,
          params: input.params,
          mode: input.mode,
          completeOnSuccess: {
            promptName: input.promptName,
            startedAt,
            cacheKey: input.cacheKey,
            cacheTtlSeconds: input.cacheTtlSeconds,
          },
        });
        status = 'succeeded';
        break;
      } catch (err) {
        if (isCancellation(err)) throw err;
        const f = failureOf(err, model);
        failure = { code: f.code, message: f.message };
        if (f.isFinal) break;
      }
    }
  } catch (err) {
    if (!isCancellation(err)) throw err;
    status = 'canceled';
    failure = { code: 'RUN_CANCELED', message: 'Run was canceled' };
  }

  const model = result?.model ?? input.model;
  const completion =
    result?.completion ??
    (await CancellationScope.nonCancellable(() =>
      completeRun({
        ...identity,
        promptName: input.promptName,
        status,
        output: result?.output ?? null,
        model,
        errorCode: status === 'succeeded' ? null : failure.code,
        errorMessage: status === 'succeeded' ? null : failure.message,
        latencyMs: Date.now() - startedAt,
        cacheKey: status === 'succeeded' ? input.cacheKey : undefined,
        cacheTtlSeconds: input.cacheTtlSeconds,
      }),
    ));

  // the run's first recorded completion stands (a success recorded just before a cancellation won)
  const { final } = completion;
  return {
    runId: workflowInfo().workflowId,
    status: final?.status ?? status,
    output: final ? final.output : (result?.output ?? null),
    model: final?.model ?? model,
    usage: completion.usage,
    attempts: completion.attempts,
    durationMs: Date.now() - startedAt,
    error: final ? final.error : status === 'succeeded' ? null : failure,
  };
}
