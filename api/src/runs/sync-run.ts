import type { EndedRun } from '@promptmill/infra/db';
import { publicErrorCode, type RunOutcome, type TokenUsage, ZERO_USAGE } from '@promptmill/workflows';
import type { AuthContext } from '../auth/auth-context.ts';
import { AppError } from '../http/app-error.ts';
import type { RunDeps } from './deps.ts';
import { runDirectSync } from './direct/direct-sync.ts';
import {
  type CacheStatus,
  newRunRow,
  type PreparedRun,
  prepareRun,
  type RunRequest,
  recordCacheHit,
} from './prepare-run.ts';
import { insertBudgetedRun } from './run-budget.ts';
import { lookupRunCache } from './run-cache.ts';
import { awaitRunOutcome, cancelAbandonedRun, queueDelayOf, watchRunDone } from './run-outcome.ts';
import { startRunWorkflow } from './run-workflow.ts';

const NEVER_ABORTED = new AbortController().signal;

/** A finished run that did not succeed → the API error its code maps to. */
export function outcomeError(outcome: RunOutcome): AppError {
  const code = publicErrorCode(outcome.error?.code ?? 'PROVIDER_ERROR');
  return new AppError(code, outcome.error?.message ?? 'Run failed', { extra: { runId: outcome.runId } });
}

export interface SyncRunResult {
  runId: string;
  output: string;
  promptVersion: number;
  model: string;
  usage: TokenUsage;
  cache: CacheStatus;
}

/**
 * Inserts the queued run row with its budget reservation (402 when the budget refuses it), then
 * starts its workflow (sync and streaming runs).
 */
export async function startRun(deps: RunDeps, prepared: PreparedRun, req: RunRequest): Promise<void> {
  await insertBudgetedRun(deps.sql, newRunRow(prepared, req), prepared.budget);
  await startRunWorkflow(deps, prepared.input);
}

/** The error a sync run whose client went away ends with (nobody reads it: the connection is gone). */
export function clientGone(runId?: string): AppError {
  return new AppError('RUN_CANCELED', 'The client went away: the run was canceled', {
    ...(runId ? { extra: { runId } } : {}),
  });
}

/** Tells the load shedding how long a run waited for a worker (sync-admission.ts). */
export function reportQueueDelay(deps: RunDeps, run: EndedRun): void {
  const ms = queueDelayOf(run);
  if (ms !== undefined) deps.observeQueueDelay?.(ms);
}

/**
 * Inserts and starts the run, then waits for its outcome: the run row as soon as its completion
 * commits, or the workflow's result. A client that goes away (`signal`) cancels the run — the
 * workflow, and at once the provider call — which ends `canceled` with the usage of its attempts.
 */
async function runToOutcome(
  deps: RunDeps,
  prepared: PreparedRun,
  req: RunRequest,
  signal: AbortSignal | undefined,
): Promise<RunOutcome> {
  const { runId } = prepared;
  if (signal?.aborted) throw clientGone(); // before any write: nothing to cancel
  // watched before the start: a fast run may end before this process would start waiting
  const done = await watchRunDone(deps, runId);
  try {
    await startRun(deps, prepared, req);
    try {
      return await awaitRunOutcome(deps, runId, deps.syncTimeoutMs, {
        done,
        signal,
        onRecorded: (run) => reportQueueDelay(deps, run),
      });
    } catch (err) {
      if (!signal?.aborted) throw err;
      await cancelAbandonedRun(deps, runId);
      throw clientGone(runId);
    }
  } finally {
    done?.release();
  }
}

/**
 * A sync run: from the cache when the version caches and an identical request is fresh, else the
 * workflow — or, in direct mode, this process. `signal` aborts when the client goes away: the run
 * is canceled (in direct mode the runner aborts its provider call at once).
 */
export async function executeSyncRun(
  deps: RunDeps,
  auth: AuthContext,
  req: RunRequest,
  signal?: AbortSignal,
): Promise<SyncRunResult> {
  const prepared = await prepareRun(deps, auth, req, 'sync');
  const { cacheKey } = prepared.input;
  const cached = await lookupRunCache(deps.sql, cacheKey);
  if (cached) {
    await recordCacheHit(deps, prepared, req, cached);
    return {
      runId: prepared.runId,
      output: cached.output,
      promptVersion: prepared.version.version,
      model: cached.model,
      usage: ZERO_USAGE,
      cache: 'HIT',
    };
  }
  if (deps.direct && signal?.aborted) throw clientGone(); // before any write: nothing to cancel
  const outcome = deps.direct
    ? await runDirectSync(deps.direct, prepared, req, deps.syncTimeoutMs, signal ?? NEVER_ABORTED)
    : await runToOutcome(deps, prepared, req, signal);
  if (outcome.status === 'canceled' && signal?.aborted) throw clientGone(outcome.runId);
  if (outcome.status !== 'succeeded') throw outcomeError(outcome);
  return {
    runId: outcome.runId,
    output: outcome.output ?? '',
    promptVersion: prepared.version.version,
    model: outcome.model,
    usage: outcome.usage,
    cache: cacheKey ? 'MISS' : undefined,
  };
}
