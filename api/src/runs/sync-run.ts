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
import { awaitRunOutcome, startRunWorkflow } from './run-workflow.ts';

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

/**
 * A sync run: from the cache when the version caches and an identical request is fresh, else the
 * workflow — or, in direct mode, this process (`signal`: the client went away, the run is canceled).
 */
export async function executeSyncRun(
  deps: RunDeps,
  auth: AuthContext,
  req: RunRequest,
  signal: AbortSignal = new AbortController().signal,
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
  let outcome: RunOutcome;
  if (deps.direct) {
    outcome = await runDirectSync(deps.direct, prepared, req, deps.syncTimeoutMs, signal);
  } else {
    await startRun(deps, prepared, req);
    outcome = await awaitRunOutcome(deps, prepared.runId, deps.syncTimeoutMs);
  }
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
