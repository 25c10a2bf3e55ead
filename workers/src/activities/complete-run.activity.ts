import {
  type AttemptEnd,
  completeRun as completeRunQuery,
  type RecordedOutcome,
  type RunTotals,
  type Sql,
} from '@promptmill/infra/db';
import {
  isErrorCode,
  type RecordedRunOutcome,
  type RunCompletionRequest,
  type RunCompletionResult,
} from '@promptmill/workflows';
import type { WorkerMetrics } from '../metrics.ts';

export interface CompletionDeps {
  sql: Sql;
  metrics: WorkerMetrics;
}

/** A recorded outcome as the workflow reports it (an unknown stored code reads as INTERNAL_ERROR). */
export function toRecordedRunOutcome(o: RecordedOutcome): RecordedRunOutcome {
  const code = o.errorCode;
  return {
    status: o.status,
    output: o.output,
    model: o.model,
    error:
      code === null
        ? null
        : { code: isErrorCode(code) ? code : 'INTERNAL_ERROR', message: o.errorMessage ?? '' },
  };
}

function toCompletionResult(totals: RunTotals): RunCompletionResult {
  const { usage, attempts, final } = totals;
  return final ? { usage, attempts, final: toRecordedRunOutcome(final) } : { usage, attempts };
}

/**
 * Records a run's completion, once, and its metrics (only the completion that recorded it counts);
 * `closing` is the successful provider call that ends the run, closed in the same transaction.
 */
export async function recordCompletion(
  deps: CompletionDeps,
  req: RunCompletionRequest,
  closing?: AttemptEnd,
): Promise<RunCompletionResult> {
  const totals = await completeRunQuery(
    deps.sql,
    {
      runId: req.runId,
      orgId: req.orgId,
      keyId: req.keyId,
      promptId: req.promptId,
      promptVersion: req.promptVersion,
      status: req.status,
      output: req.output,
      model: req.model,
      errorCode: req.errorCode,
      errorMessage: req.errorMessage,
      latencyMs: req.latencyMs,
      cacheHit: false,
      // the workflow passes these only for a successful run of a caching version
      cacheKey: req.cacheKey,
      cacheTtlSeconds: req.cacheTtlSeconds,
    },
    closing,
  );
  // bounded labels: tenant-chosen prompt and model names go through the label budget (metric-labels.ts)
  if (totals.recorded) deps.metrics.recordRun(req, totals.usage);
  return toCompletionResult(totals);
}

export function createCompleteRunActivity(deps: CompletionDeps) {
  return async function completeRun(req: RunCompletionRequest): Promise<RunCompletionResult> {
    return recordCompletion(deps, req);
  };
}
