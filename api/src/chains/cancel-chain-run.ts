import { CHAIN_WORKFLOW } from '@promptmill/workflows';
import { WorkflowNotFoundError } from '@temporalio/client';
import type { AuthContext } from '../auth/auth-context.ts';
import { AppError } from '../http/app-error.ts';
import { workflowHandle } from '../temporal.ts';
import {
  type ChainRunResource,
  findVisibleChainRun,
  getChainRun,
  isChainRunTerminal,
  waitForChainRun,
} from './chain-run-resource.ts';
import type { ChainDeps } from './deps.ts';

/** How long a cancel request waits for the chain to record its cancellation before answering 202. */
const CANCEL_WAIT_SECONDS = 5;

/**
 * Cancels a chain run: its workflow is cancelled, which cancels the steps' runs in flight (each
 * records `canceled` with the usage of its attempts), marks the steps not started `canceled`, and
 * records the chain's end. A finished chain run → 409 INVALID_STATE.
 */
export async function cancelChainRun(
  deps: ChainDeps,
  auth: AuthContext,
  id: string,
): Promise<{ run: ChainRunResource; hasEnded: boolean }> {
  const { run } = await findVisibleChainRun(deps.sql, auth, id);
  const invalidState = (status: string) =>
    new AppError(
      'INVALID_STATE',
      `Workflow run '${id}' has already ${status === 'canceled' ? 'been canceled' : status}`,
    );
  if (isChainRunTerminal(run.status)) throw invalidState(run.status);
  try {
    await workflowHandle(deps.temporal, CHAIN_WORKFLOW, id).cancel();
  } catch (err) {
    if (!(err instanceof WorkflowNotFoundError)) throw err;
    // it ended between the read and the cancel
    const now = await getChainRun(deps.sql, auth, id);
    if (isChainRunTerminal(now.status)) throw invalidState(now.status);
    throw err;
  }
  const ended = await waitForChainRun(deps, auth, id, CANCEL_WAIT_SECONDS);
  return ended
    ? { run: ended, hasEnded: true }
    : { run: await getChainRun(deps.sql, auth, id), hasEnded: false };
}
