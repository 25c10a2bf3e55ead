import { completeRun as completeRunQuery, type Sql } from '@promptmill/infra/db';
import type { RunCompletionRequest, RunCompletionResult } from '@promptmill/workflows';
import type { WorkerMetrics } from '../metrics.ts';

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
    // bounded labels: tenant-chosen prompt and model names go through the label budget (metric-labels.ts)
    if (totals.recorded) deps.metrics.recordRun(req, totals.usage);
    return { usage: totals.usage, attempts: totals.attempts };
  };
}
