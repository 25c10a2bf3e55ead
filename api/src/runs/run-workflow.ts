import { failUnstartedRun, handOverToDispatch } from '@promptmill/infra/db';
import { RUN_PROMPT_WORKFLOW, type RunPromptWorkflowInput } from '@promptmill/workflows';
import {
  isGrpcServiceError,
  WorkflowExecutionAlreadyStartedError,
  WorkflowNotFoundError,
} from '@temporalio/client';
import { AppError } from '../http/app-error.ts';
import { startWorkflow, type TemporalHandle, workflowHandle } from '../temporal.ts';
import type { RunDeps } from './deps.ts';
import { RunStartRefusedError, type StartResult } from './dispatch/index.ts';
import { classifyStartError } from './start-errors.ts';

/**
 * Workflow task timeout of run workflows. While a local activity (the provider call) runs, the
 * worker heartbeats the workflow task at 80 % of this, and only then sees new events such as a
 * cancellation request: 3 s bounds cancel latency to ~2.4 s (Temporal's default, 10 s, to ~8 s).
 */
const RUN_WORKFLOW_TASK_TIMEOUT = '3 seconds';

const runWorkflowOptions = (temporal: TemporalHandle, input: RunPromptWorkflowInput) => ({
  workflowId: input.runId,
  taskQueue: temporal.taskQueue,
  workflowTaskTimeout: RUN_WORKFLOW_TASK_TIMEOUT,
  args: [input] as [RunPromptWorkflowInput],
});

/** The run's workflow (workflow id = run id). */
export const runHandle = (temporal: TemporalHandle, runId: string) =>
  workflowHandle(temporal, RUN_PROMPT_WORKFLOW, runId);

/**
 * The dispatcher's start of an async run's workflow. Idempotent: a workflow with this id, running
 * or closed, means another start got there first (REJECT_DUPLICATE: a finished run is never re-run).
 * A refusal retrying cannot fix throws RunStartRefusedError (the dispatcher fails the run at once);
 * anything else is thrown as is (the claim goes back for a sweeper's next attempt).
 */
export async function startRunWorkflowOnce(
  temporal: TemporalHandle,
  input: RunPromptWorkflowInput,
  opts: { eager?: boolean } = {},
): Promise<StartResult> {
  try {
    await startWorkflow(
      temporal,
      RUN_PROMPT_WORKFLOW,
      { ...runWorkflowOptions(temporal, input), workflowIdReusePolicy: 'REJECT_DUPLICATE' },
      opts,
    );
    return 'started';
  } catch (err) {
    if (err instanceof WorkflowExecutionAlreadyStartedError) return 'already_started';
    const failure = classifyStartError(err);
    if (!failure.retryable) throw new RunStartRefusedError(failure.code, failure.message, { cause: err });
    throw err;
  }
}

/**
 * gRPC status codes with which Temporal refused a start it looked at: the workflow certainly does
 * not exist. Any other failure — deadline exceeded, unavailable, cancelled, a connection reset after
 * the request went out — may come after the workflow was started.
 */
const REFUSED_START_CODES: ReadonlySet<number> = new Set([
  3, // INVALID_ARGUMENT
  5, // NOT_FOUND (the namespace)
  7, // PERMISSION_DENIED
  8, // RESOURCE_EXHAUSTED (rate limited before it was handled)
  9, // FAILED_PRECONDITION
  11, // OUT_OF_RANGE
  12, // UNIMPLEMENTED
  16, // UNAUTHENTICATED
]);

/** True when a start failed such that the workflow certainly was not started. */
export function isDefiniteRefusal(err: unknown): boolean {
  // refused for good (start-errors.ts): an unknown namespace, an input that could not be encoded or
  // sent, or a status in REFUSED_START_CODES
  if (err instanceof RunStartRefusedError) return true;
  if (err instanceof WorkflowNotFoundError) return true; // NOT_FOUND, as the client reports it
  for (let e: unknown = err; e instanceof Error; e = e.cause) {
    if (isGrpcServiceError(e)) return REFUSED_START_CODES.has(e.code);
  }
  return false;
}

/** How often, and how soon, a start with an unknown outcome is checked: after 0.1, 0.3, 0.7, 1.5 s. */
export const START_CHECKS = { count: 4, firstDelayMs: 100 } as const;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * After a start whose outcome is unknown: asks Temporal whether the run's workflow exists (describe,
 * a few times with backoff), and where it certainly does not, starts it again with REJECT_DUPLICATE
 * — a first start still in flight and this one cannot both make an execution. 'refused' only when
 * the last check found no workflow and Temporal refused to start one.
 */
async function checkStart(temporal: TemporalHandle, input: RunPromptWorkflowInput): Promise<StartState> {
  let refusal: unknown;
  for (let i = 0; i < START_CHECKS.count; i++) {
    await sleep(START_CHECKS.firstDelayMs * 2 ** i);
    refusal = undefined;
    try {
      await runHandle(temporal, input.runId).describe();
      return { state: 'running' };
    } catch (err) {
      if (!(err instanceof WorkflowNotFoundError)) continue; // no answer: ask again
    }
    try {
      await startRunWorkflowOnce(temporal, input);
      return { state: 'running' };
    } catch (err) {
      // the first start may still land: look again before believing it
      if (isDefiniteRefusal(err)) refusal = err;
    }
  }
  return refusal === undefined ? { state: 'unknown' } : { state: 'refused', refusal };
}

type StartState = { state: 'running' } | { state: 'unknown' } | { state: 'refused'; refusal: unknown };

/**
 * Starts a sync or streaming run's workflow. Only a definite refusal fails the run (its reservation
 * released): with the refusal's own code when retrying cannot help (PROMPT_TOO_LARGE, INTERNAL_ERROR:
 * start-errors.ts), else 503 SERVICE_UNAVAILABLE "try again" (rate limited, credentials). A start
 * that failed with an unknown outcome is checked (checkStart); if Temporal never answers, the run is
 * not failed: it joins the async outbox — the dispatcher and the sweepers start it once
 * (REJECT_DUPLICATE) or give up on it like on any async run — and the caller gets 503 with the run's
 * id to poll.
 */
export async function startRunWorkflow(deps: RunDeps, input: RunPromptWorkflowInput): Promise<void> {
  let start: StartState;
  try {
    // a caller waits for this run: on this process's own worker when it has one (eager start)
    await startRunWorkflowOnce(deps.temporal, input, { eager: true });
    return;
  } catch (err) {
    start = isDefiniteRefusal(err)
      ? { state: 'refused', refusal: err }
      : await checkStart(deps.temporal, input);
  }
  if (start.state === 'running') return;
  if (start.state === 'unknown') {
    // false: the run has moved on, so its workflow did start after all
    if (!(await handOverToDispatch(deps.sql, input.runId, input))) return;
    deps.dispatcher.dispatch(input);
    throw new AppError(
      'SERVICE_UNAVAILABLE',
      `The run's start could not be confirmed; it starts when the workflow service answers: poll /v1/runs/${input.runId}`,
      { extra: { runId: input.runId } },
    );
  }
  const final = start.refusal instanceof RunStartRefusedError ? start.refusal : undefined;
  const code = final?.code ?? 'SERVICE_UNAVAILABLE';
  const message = final?.message ?? 'The run could not be started; try again';
  await failUnstartedRun(deps.sql, input.runId, code, message).catch(() => {});
  // the client gets the code and a fixed message; the error handler logs the refusal itself
  throw new AppError(code, message, { extra: { runId: input.runId }, cause: start.refusal });
}
