import { completeRun as completeRunQuery, type RunTotals, type Sql } from '@promptmill/infra/db';
import { isErrorCode, type RunCompletionRequest, type RunCompletionResult } from '@promptmill/workflows';
import type { WorkerMetrics } from '../metrics.ts';

export interface CompletedRun {
  promptName: string;
  promptVersion: number;
  model: string;
  status: 'succeeded' | 'failed' | 'canceled';
  latencyMs: number;
}

/** Run metrics, once per run: only the completion that recorded it counts. */
export function observeCompletion(metrics: WorkerMetrics, run: CompletedRun, totals: RunTotals): void {
  if (!totals.recorded) return;
  const labels = { prompt: run.promptName, model: run.model };
  metrics.runs.inc({ ...labels, version: String(run.promptVersion), status: run.status });
  metrics.runDuration.observe(labels, run.latencyMs / 1000);
  metrics.tokens.inc({ ...labels, kind: 'prompt' }, totals.usage.promptTokens);
  metrics.tokens.inc({ ...labels, kind: 'completion' }, totals.usage.completionTokens);
  metrics.cost.inc(labels, totals.usage.cost);
}

/** What the workflow gets back: the totals, and the earlier outcome when this completion was not the first. */
export function toCompletionResult(totals: RunTotals): RunCompletionResult {
  const { final } = totals;
  if (!final) return { usage: totals.usage, attempts: totals.attempts };
  const code = final.errorCode;
  return {
    usage: totals.usage,
    attempts: totals.attempts,
    final: {
      status: final.status,
      output: final.output,
      model: final.model,
      error:
        code === null
          ? null
          : { code: isErrorCode(code) ? code : 'INTERNAL_ERROR', message: final.errorMessage ?? '' },
    },
  };
}

export function createCompleteRunActivity(deps: { sql: Sql; metrics: WorkerMetrics }) {
  return async function completeRun(req: RunCompletionRequest): Promise<RunCompletionResult> {
    const totals = await completeRunQuery(deps.sql, {
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
    });
    observeCompletion(deps.metrics, req, totals);
    return toCompletionResult(totals);
  };
}
