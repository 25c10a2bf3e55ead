import type { RunOutcome } from '@promptmill/workflows';
import type { Response } from 'express';
import type { PreparedRun, RunRequest } from '../prepare-run.ts';
import { runTimeoutError } from '../run-outcome.ts';
import type { DirectRunner } from './direct-runner.ts';

/** Aborts when the client goes away before its answer is sent (a finished answer does not). */
export function clientGoneSignal(res: Response): AbortSignal {
  const gone = new AbortController();
  res.once('close', () => {
    if (!res.writableFinished) gone.abort();
  });
  return gone.signal;
}

/**
 * A sync run in direct mode: its outcome, or 504 RUN_TIMEOUT after `timeoutMs` as in workflow mode
 * (the run goes on in this process and records its end; poll it). A client that goes away cancels it.
 */
export async function runDirectSync(
  runner: DirectRunner,
  prepared: PreparedRun,
  req: RunRequest,
  timeoutMs: number,
  signal: AbortSignal,
): Promise<RunOutcome> {
  const running = runner.run(prepared, req, { signal });
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<undefined>((resolve) => {
    timer = setTimeout(() => resolve(undefined), timeoutMs);
  });
  try {
    const outcome = await Promise.race([running, timedOut]);
    if (outcome) return outcome;
  } finally {
    clearTimeout(timer);
  }
  running.catch(() => {}); // its failure, if any, is the runner's to log and record
  throw runTimeoutError(prepared.runId, timeoutMs);
}
