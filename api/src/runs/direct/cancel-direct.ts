import { requestStreamCancel } from '@promptmill/infra/run-stream';
import type { AuthContext } from '../../auth/auth-context.ts';
import type { RunDeps } from '../deps.ts';
import { findVisibleRun, isTerminal, type RunResource, sleep, toRunResource } from '../run-resource.ts';

/**
 * Cancels a direct run (no workflow to cancel): the api process executing it — any of them — hears
 * the request on the run-stream cancel channel and aborts its provider call; the run then records
 * `canceled`, which this waits for (up to `waitMs`) by reading the run row.
 */
export async function cancelDirectRun(
  deps: Pick<RunDeps, 'sql'>,
  auth: AuthContext,
  runId: string,
  waitMs: number,
): Promise<{ run: RunResource; hasEnded: boolean }> {
  await requestStreamCancel(deps.sql, runId);
  const deadline = Date.now() + waitMs;
  for (;;) {
    const run = await findVisibleRun(deps.sql, auth, runId);
    if (isTerminal(run.status) || Date.now() >= deadline) {
      return { run: toRunResource(run), hasEnded: isTerminal(run.status) };
    }
    await sleep(50);
  }
}
