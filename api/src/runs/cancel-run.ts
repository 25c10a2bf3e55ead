import { cancelUndispatchedRun, type RunStatus } from '@promptmill/infra/db';
import { WorkflowNotFoundError } from '@temporalio/client';
import type { AuthContext } from '../auth/auth-context.ts';
import { AppError } from '../http/app-error.ts';
import type { RunDeps } from './deps.ts';
import { cancelDirectRun } from './direct/cancel-direct.ts';
import {
  findVisibleRun,
  isTerminal,
  type RunResource,
  sleep,
  toRunResource,
  waitForRun,
} from './run-resource.ts';
import { runHandle } from './run-workflow.ts';

/** How long a cancel request waits for the workflow to record the cancellation before answering 202. */
const CANCEL_WAIT_MS = 5_000;

/** How long a cancel request waits for a run's workflow start in flight (dispatcher claimed, not yet started). */
const CANCEL_START_WAIT_MS = 2_000;

export interface CancelResult {
  run: RunResource;
  /** true once the run has ended: canceled, or finished before the cancellation reached it */
  hasEnded: boolean;
}

/**
 * Cancels a queued or running run. An async run whose workflow no dispatcher has claimed yet is
 * canceled in the database and never starts; otherwise the workflow is cancelled, records
 * `canceled` (and the usage of the attempts made so far) and ends. A finished run → 409 INVALID_STATE.
 */
export async function cancelRun(deps: RunDeps, auth: AuthContext, runId: string): Promise<CancelResult> {
  const before = await findVisibleRun(deps.sql, auth, runId);
  const invalidState = (status: RunStatus) =>
    new AppError(
      'INVALID_STATE',
      `Run '${runId}' has already ${status === 'canceled' ? 'been canceled' : status}`,
    );
  if (isTerminal(before.status)) throw invalidState(before.status);
  if (before.mode === 'direct') return cancelDirectRun(deps, auth, runId, CANCEL_WAIT_MS);
  const canceledBeforeStart = async (): Promise<CancelResult | undefined> =>
    (await cancelUndispatchedRun(deps.sql, runId))
      ? { run: toRunResource(await findVisibleRun(deps.sql, auth, runId)), hasEnded: true }
      : undefined;
  if (before.status === 'queued') {
    const canceled = await canceledBeforeStart();
    if (canceled) return canceled;
  }
  const startDeadline = Date.now() + CANCEL_START_WAIT_MS;
  for (;;) {
    try {
      await runHandle(deps.temporal, runId).cancel();
      break;
    } catch (err) {
      if (!(err instanceof WorkflowNotFoundError)) throw err;
    }
    // finished between the read and the cancel (a closed workflow is "not found" to cancel), or
    // claimed by a dispatcher whose start has not landed yet (or failed: then it is unclaimed again)
    const now = await findVisibleRun(deps.sql, auth, runId);
    if (isTerminal(now.status)) throw invalidState(now.status);
    const canceled = now.status === 'queued' ? await canceledBeforeStart() : undefined;
    if (canceled) return canceled;
    if (Date.now() >= startDeadline) {
      throw new AppError('SERVICE_UNAVAILABLE', 'The run is not cancelable yet; try again');
    }
    await sleep(100);
  }
  const ended = await waitForRun(deps, auth, runId, CANCEL_WAIT_MS / 1000);
  if (ended) return { run: ended, hasEnded: true };
  return { run: toRunResource(await findVisibleRun(deps.sql, auth, runId)), hasEnded: false };
}
