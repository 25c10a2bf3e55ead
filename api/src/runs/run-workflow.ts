import { failUnstartedRun } from '@promptmill/infra/db';
import { RUN_PROMPT_WORKFLOW, type RunOutcome, type RunPromptWorkflowInput } from '@promptmill/workflows';
import { WorkflowExecutionAlreadyStartedError, WorkflowFailedError } from '@temporalio/client';
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
): Promise<StartResult> {
  try {
    await startWorkflow(temporal, RUN_PROMPT_WORKFLOW, {
      ...runWorkflowOptions(temporal, input),
      workflowIdReusePolicy: 'REJECT_DUPLICATE',
    });
    return 'started';
  } catch (err) {
    if (err instanceof WorkflowExecutionAlreadyStartedError) return 'already_started';
    const failure = classifyStartError(err);
    if (!failure.retryable) throw new RunStartRefusedError(failure.code, failure.message, { cause: err });
    throw err;
  }
}

/**
 * Starts a sync or streaming run's workflow; if Temporal refuses, the run fails at once: 503
 * SERVICE_UNAVAILABLE ("try again") when the service is unavailable, the refusal's own code
 * (PROMPT_TOO_LARGE, INTERNAL_ERROR) when retrying cannot help. The server's text is logged by the
 * error handler's caller only through the cause, never sent.
 */
export async function startRunWorkflow(deps: RunDeps, input: RunPromptWorkflowInput): Promise<void> {
  try {
    await startWorkflow(deps.temporal, RUN_PROMPT_WORKFLOW, runWorkflowOptions(deps.temporal, input));
  } catch (err) {
    const failure = classifyStartError(err);
    const code = failure.retryable ? 'SERVICE_UNAVAILABLE' : failure.code;
    const message = failure.retryable ? 'The run could not be started; try again' : failure.message;
    await failUnstartedRun(deps.sql, input.runId, code, message).catch(() => {});
    throw new AppError(code, message, { extra: { runId: input.runId }, cause: err });
  }
}

/** The workflow's result, or undefined when it has not finished within `timeoutMs` or `signal` aborts. */
export async function waitForOutcome(
  temporal: TemporalHandle,
  runId: string,
  timeoutMs: number,
  signal?: AbortSignal,
): Promise<RunOutcome | undefined> {
  const { client } = temporal;
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), Math.max(0, timeoutMs));
  const stop = signal ? AbortSignal.any([controller.signal, signal]) : controller.signal;
  try {
    // the abort also ends the long-poll, so a timed-out wait leaves nothing running behind it
    return await client.withAbortSignal(stop, () => runHandle(temporal, runId).result());
  } catch (err) {
    if (stop.aborted) return undefined;
    throw err;
  } finally {
    clearTimeout(timer);
  }
}

/** Waits for the run's workflow; after `timeoutMs` → 504 RUN_TIMEOUT (the run goes on). */
export async function awaitRunOutcome(deps: RunDeps, runId: string, timeoutMs: number): Promise<RunOutcome> {
  let outcome: RunOutcome | undefined;
  try {
    outcome = await waitForOutcome(deps.temporal, runId, timeoutMs);
  } catch (err) {
    if (err instanceof WorkflowFailedError) {
      throw new AppError('INTERNAL_ERROR', 'Run failed unexpectedly', { extra: { runId } });
    }
    throw err;
  }
  if (!outcome) {
    throw new AppError(
      'RUN_TIMEOUT',
      `Run did not finish within ${Math.round(timeoutMs / 1000)} s; it goes on: poll /v1/runs/${runId}`,
      { extra: { runId } },
    );
  }
  return outcome;
}
