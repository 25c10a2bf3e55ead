import {
  type AttemptEnd,
  completeRun as completeRunQuery,
  type RecordedOutcome,
  type RunTotals,
  type Sql,
} from '@promptmill/infra/db';
import {
  isErrorCode,
  type ModelCallRequest,
  type ModelCallResult,
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

/**
 * A successful call that ends its run (the workflow set completeOnSuccess): the call's usage row is
 * closed and the run's completion recorded in one transaction.
 */
export function completeWithCall(
  deps: CompletionDeps,
  req: ModelCallRequest,
  closing: AttemptEnd,
  output: string,
): Promise<RunCompletionResult> {
  const run = req.completeOnSuccess;
  return recordCompletion(
    deps,
    {
      ...req,
      promptName: run?.promptName ?? '',
      status: 'succeeded',
      output,
      errorCode: null,
      errorMessage: null,
      latencyMs: run ? Math.max(0, Date.now() - run.startedAt) : 0,
      cacheKey: run?.cacheKey,
      cacheTtlSeconds: run?.cacheTtlSeconds,
    },
    closing,
  );
}

/** A repeated call of a run whose completion is recorded: its outcome, without calling the provider. */
export function recordedCallResult(
  req: ModelCallRequest,
  provider: string,
  done: RecordedOutcome,
): ModelCallResult {
  return {
    output: done.output ?? '',
    model: req.model,
    provider,
    usage: done.usage,
    latencyMs: 0,
    completion: { usage: done.usage, attempts: done.attempts, final: toRecordedRunOutcome(done) },
  };
}

export function createCompleteRunActivity(deps: CompletionDeps) {
  return async function completeRun(req: RunCompletionRequest): Promise<RunCompletionResult> {
    return recordCompletion(deps, req);
  };
}
