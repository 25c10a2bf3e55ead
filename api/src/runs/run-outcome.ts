/**
 * Waiting for a sync, streaming or `Prefer: wait` run's outcome, and giving up on a run whose client
 * went away.
 *
 * A run's outcome is recorded by the transaction that ends it (the run row), before its workflow
 * completes; that transaction NOTIFYs its end (migration 012, @promptmill/infra/run-stream
 * run-done.ts), so a wait answers from the recorded row at once. The workflow's result — the
 * Temporal long-poll — is the fallback for a NOTIFY that never comes.
 */
import { type EndedRun, findEndedRun, type Sql } from '@promptmill/infra/db';
import { type RunDoneWatch, requestStreamCancel, runDoneHubFor } from '@promptmill/infra/run-stream';
import { isErrorCode, type RunOutcome } from '@promptmill/workflows';
import { WorkflowFailedError } from '@temporalio/client';
import { AppError } from '../http/app-error.ts';
import type { RunDeps } from './deps.ts';
import { runHandle } from './run-workflow.ts';

/**
 * When the cancel NOTIFY is sent again after the first (ms after the previous one), until the run
 * has ended: NOTIFY reaches only a worker already watching, and a call that had not started yet
 * when the client left (its workflow task still on its way to a worker) would otherwise run until
 * the workflow's cancellation reaches it at a workflow-task heartbeat (~2.4 s).
 */
export const CANCEL_RENOTIFY_MS = [100, 200, 400, 800, 1_600] as const;

/**
 * Cancels a sync or streaming run whose client went away: the workflow, and at once the provider
 * call (a workflow cancellation reaches a running local activity only at its next workflow-task
 * heartbeat; the worker watching RUN_CANCEL_CHANNEL aborts the call now). Resolves once both are
 * asked; the NOTIFY is repeated in the background (CANCEL_RENOTIFY_MS).
 */
export async function cancelAbandonedRun(
  deps: Pick<RunDeps, 'sql' | 'temporal'>,
  runId: string,
): Promise<void> {
  const done = await watchRunDone(deps, runId);
  await Promise.all([
    runHandle(deps.temporal, runId)
      .cancel()
      .catch(() => {}), // already finished: nothing to cancel
    requestStreamCancel(deps.sql, runId).catch(() => {}),
  ]);
  void renotifyCancel(deps, runId, done);
}

async function renotifyCancel(
  deps: Pick<RunDeps, 'sql'>,
  runId: string,
  done: RunDoneWatch | undefined,
): Promise<void> {
  const hasEnded = done ? done.next().then(() => true) : new Promise<boolean>(() => {});
  try {
    for (const ms of CANCEL_RENOTIFY_MS) {
      let timer: NodeJS.Timeout | undefined;
      const due = new Promise<boolean>((resolve) => {
        timer = setTimeout(() => resolve(false), ms);
      });
      const isOver = await Promise.race([hasEnded, due]);
      clearTimeout(timer);
      if (isOver) return;
      await requestStreamCancel(deps.sql, runId).catch(() => {});
    }
  } finally {
    done?.release();
  }
}

/**
 * This process's watch of the run's end (@promptmill/infra/run-stream, run-done.ts); undefined when
 * it cannot listen (then the workflow's result answers). Release it when done.
 */
export async function watchRunDone(
  deps: Pick<RunDeps, 'sql'>,
  runId: string,
): Promise<RunDoneWatch | undefined> {
  const hub = runDoneHubFor(deps.sql);
  try {
    await hub.ready();
  } catch {
    return undefined;
  }
  return hub.watch(runId);
}

/** What a wait for a run's outcome listens to besides the workflow's result. */
export interface OutcomeWait {
  /**
   * The run's end, announced when its completion commits (RUN_DONE_CHANNEL): watched from before the
   * workflow starts, so a fast run cannot end unseen. Without it only the workflow's result answers.
   */
  done?: RunDoneWatch | undefined;
  /** Ends the wait early (the client went away): the result is then undefined. */
  signal?: AbortSignal | undefined;
  /** Called with the recorded row when it answers (not when the workflow's result does). */
  onRecorded?: ((run: EndedRun) => void) | undefined;
}

/** Resolves when `signal` aborts (never rejects). */
const untilAborted = (signal: AbortSignal) =>
  new Promise<undefined>((resolve) => {
    if (signal.aborted) resolve(undefined);
    else signal.addEventListener('abort', () => resolve(undefined), { once: true });
  });

/** How long a run waited for a worker: from its row's creation to its first provider call. */
export const queueDelayOf = (run: EndedRun): number | undefined =>
  run.startedAt ? run.startedAt.getTime() - run.createdAt.getTime() : undefined;

/** A finished run's row as the workflow would have returned it (same output, model, usage, error). */
export function outcomeOfRow(runId: string, row: EndedRun): RunOutcome {
  return {
    runId,
    status: row.status,
    output: row.output,
    model: row.model,
    usage: {
      promptTokens: row.promptTokens,
      completionTokens: row.completionTokens,
      totalTokens: row.promptTokens + row.completionTokens,
      cost: row.cost,
    },
    attempts: row.attempts,
    durationMs: row.finishedAt.getTime() - (row.startedAt ?? row.createdAt).getTime(),
    error:
      row.status === 'succeeded'
        ? null
        : {
            code: isErrorCode(row.errorCode) ? row.errorCode : 'INTERNAL_ERROR',
            message: row.errorMessage ?? 'Run failed',
          },
  };
}

/**
 * The outcome from the run row — as its end NOTIFY carried it, or read when `done` fires — once
 * the run has ended; undefined when `stop` aborts first or the row cannot be read (the workflow's
 * result answers then).
 */
async function outcomeFromRow(
  sql: Sql,
  runId: string,
  done: RunDoneWatch,
  stop: AbortSignal,
  onFired: () => void,
  onRecorded: OutcomeWait['onRecorded'],
): Promise<RunOutcome | undefined> {
  const stopped = untilAborted(stop);
  for (;;) {
    const carried = await Promise.race([done.next(), stopped]);
    if (stop.aborted) return undefined;
    onFired();
    let row = carried;
    try {
      row ??= await findEndedRun(sql, runId);
    } catch {
      return undefined;
    }
    if (row) {
      onRecorded?.(row);
      return outcomeOfRow(runId, row);
    }
  }
}

/**
 * How long a wait relies on the run's end NOTIFY alone before it also long-polls the workflow's
 * result. Most runs end sooner, and then Temporal is never asked (a long-poll costs the api a gRPC
 * call, and its cancellation an error with a stack trace); a NOTIFY that never comes costs at most
 * this much, and makes waits ask Temporal at once for a while (RunDoneWatch.isReliable).
 */
export const RESULT_POLL_DELAY_MS = 1_000;

/** The abort reason of a finished wait: a shared value, as an AbortError made per wait costs a stack trace. */
const WAIT_OVER = Object.freeze(new Error('the wait is over'));

/** Resolves true after `ms`, false as soon as `signal` aborts. */
function delayUnlessAborted(ms: number, signal: AbortSignal): Promise<boolean> {
  if (ms <= 0 || signal.aborted) return Promise.resolve(!signal.aborted);
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve(true);
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      resolve(false);
    };
    signal.addEventListener('abort', onAbort, { once: true });
  });
}

/**
 * The run's outcome, or undefined when it has not ended within `timeoutMs` or `wait.signal` aborts.
 * Whichever comes first answers: the run row once its completion is committed (`wait.done`), or
 * the workflow's result (a long-poll from RESULT_POLL_DELAY_MS on; at once without `done`). Both
 * carry the same output, model, usage and error: the workflow returns what its completion recorded.
 */
export async function waitForOutcome(
  deps: Pick<RunDeps, 'sql' | 'temporal'>,
  runId: string,
  timeoutMs: number,
  wait: OutcomeWait = {},
): Promise<RunOutcome | undefined> {
  const { client } = deps.temporal;
  const { done } = wait;
  const controller = new AbortController();
  // Infinity: no timeout (a stream waits as long as its client stays)
  const timer = Number.isFinite(timeoutMs)
    ? setTimeout(() => controller.abort(WAIT_OVER), Math.max(0, timeoutMs))
    : undefined;
  const stop = wait.signal ? AbortSignal.any([controller.signal, wait.signal]) : controller.signal;
  const pollDelay = done?.isReliable ? RESULT_POLL_DELAY_MS : 0;
  // the abort also ends the long-poll, so a finished wait leaves nothing running behind it
  const fromWorkflow = delayUnlessAborted(pollDelay, stop).then((isDue) =>
    isDue ? client.withAbortSignal(stop, () => runHandle(deps.temporal, runId).result()) : undefined,
  );
  let hasFired = false;
  const fromRow = done
    ? outcomeFromRow(
        deps.sql,
        runId,
        done,
        stop,
        () => {
          hasFired = true;
        },
        wait.onRecorded,
      )
    : undefined;
  try {
    if (!fromRow) return await fromWorkflow;
    fromWorkflow.catch(() => {}); // the row may answer first: the aborted long-poll's rejection is expected
    const first = await Promise.race([fromRow, fromWorkflow.then((outcome) => ({ outcome }))]);
    if (first && 'outcome' in first) {
      // the workflow has completed, so its completion committed well before: the NOTIFY was lost
      if (first.outcome && !hasFired) done?.missed();
      return first.outcome;
    }
    // undefined from the row: stopped, or unreadable — then only the workflow can answer
    return first ?? (stop.aborted ? undefined : await fromWorkflow);
  } catch (err) {
    if (stop.aborted) return undefined;
    throw err;
  } finally {
    clearTimeout(timer);
    controller.abort(WAIT_OVER);
  }
}

/**
 * Waits for the run's outcome; after `timeoutMs` → 504 RUN_TIMEOUT (the run goes on). When
 * `wait.signal` aborts, throws its reason.
 */
export async function awaitRunOutcome(
  deps: Pick<RunDeps, 'sql' | 'temporal'>,
  runId: string,
  timeoutMs: number,
  wait: OutcomeWait = {},
): Promise<RunOutcome> {
  let outcome: RunOutcome | undefined;
  try {
    outcome = await waitForOutcome(deps, runId, timeoutMs, wait);
  } catch (err) {
    if (err instanceof WorkflowFailedError) {
      throw new AppError('INTERNAL_ERROR', 'Run failed unexpectedly', { extra: { runId } });
    }
    throw err;
  }
  if (!outcome) {
    wait.signal?.throwIfAborted();
    throw runTimeoutError(runId, timeoutMs);
  }
  return outcome;
}

/** 504 RUN_TIMEOUT: a sync run still going after SYNC_RUN_TIMEOUT_MS (in either mode). */
export function runTimeoutError(runId: string, timeoutMs: number): AppError {
  return new AppError(
    'RUN_TIMEOUT',
    `Run did not finish within ${Math.round(timeoutMs / 1000)} s; it goes on: poll /v1/runs/${runId}`,
    { extra: { runId } },
  );
}
