import type { Sql } from '@promptmill/infra/db';
import { createStreamPublisher, streamCancellationsFor } from '@promptmill/infra/run-stream';
import type { ModelCallRequest, ModelCallResult } from '@promptmill/workflows';
import { ApplicationFailure, Context } from '@temporalio/activity';
import type { WorkerMetrics } from '../metrics.ts';
import {
  callProvider,
  type ProviderCallDeps,
  type ProviderCallOutcome,
  sqlAttemptLog,
} from '../provider-call/provider-call.ts';
import type { ModelPrice } from '../providers/pricing.ts';
import type { ProviderRegistry } from '../providers/provider-registry.ts';
import { toApplicationFailure } from './provider-errors.ts';

// the call itself (request building, attempt rows, failure classification) is provider-call.ts,
// shared with the api's direct mode; this file is its Temporal side
export { attemptSeq, buildCompletionParams } from '../provider-call/provider-call.ts';

export interface ModelCallDeps {
  sql: Sql;
  providers: ProviderRegistry;
  priceOf: (model: string) => ModelPrice | undefined;
  metrics: WorkerMetrics;
  /** A streaming call that receives nothing for this long is aborted (default 60 s). */
  streamIdleTimeoutMs?: number | undefined;
}

/**
 * The call's result, or its failure as Temporal sees it: an ApplicationFailure typed with the error
 * code and its fixed message (the workflow keeps it as the run's error). A failure's own text is
 * logged here; provider-call.ts keeps it with the attempt's usage row (error_detail).
 */
function resultOf(ctx: Context, req: ModelCallRequest, outcome: ProviderCallOutcome): ModelCallResult {
  if (outcome.ok) return outcome.result;
  const { failure } = outcome;
  if (failure.detail !== undefined) {
    ctx.log.warn('model call failed', {
      runId: req.runId,
      model: req.model,
      attempt: ctx.info.attempt,
      code: failure.code,
      message: failure.message,
      detail: failure.detail,
    });
  }
  throw toApplicationFailure(failure);
}

function providerCallDeps(deps: ModelCallDeps): ProviderCallDeps {
  return {
    providers: deps.providers,
    priceOf: deps.priceOf,
    metrics: deps.metrics,
    streamIdleTimeoutMs: deps.streamIdleTimeoutMs,
  };
}

export function createModelCallActivity(deps: ModelCallDeps) {
  const callDeps = providerCallDeps(deps);
  const log = sqlAttemptLog(deps.sql);
  return async function callModel(req: ModelCallRequest): Promise<ModelCallResult> {
    const ctx = Context.current();
    if (req.mode === 'stream') return streamModelCall(deps, req, ctx);
    const outcome = await callProvider(callDeps, {
      req,
      attempt: ctx.info.attempt,
      signal: ctx.cancellationSignal,
      log,
    });
    return resultOf(ctx, req, outcome);
  };
}

function waitForAbort(signal: AbortSignal, timeoutMs: number): Promise<void> {
  if (signal.aborted) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, timeoutMs);
    signal.addEventListener(
      'abort',
      () => {
        clearTimeout(timer);
        resolve();
      },
      { once: true },
    );
  });
}

/** How long a stream stopped by the api's fast cancel waits for the workflow's own cancellation. */
const CANCEL_CONFIRM_TIMEOUT_MS = 30_000;

/**
 * The streaming provider call (`mode: 'stream'`): each content delta is published to the api as it
 * arrives (@promptmill/infra/run-stream). A client that goes away cancels the workflow; the api also
 * asks this worker to stop the provider request at once (a workflow cancellation reaches a running
 * local activity only at its next workflow-task heartbeat). Retries, STREAM_BROKEN and the usage of
 * broken and canceled streams: provider-call.ts.
 */
export async function streamModelCall(
  deps: ModelCallDeps,
  req: ModelCallRequest,
  ctx: Context,
): Promise<ModelCallResult> {
  const cancellations = streamCancellationsFor(deps.sql);
  // without the listener a disconnect still cancels the run, only later (workflow-task heartbeat)
  await cancellations.ready().catch((err: unknown) => {
    ctx.log.warn('stream cancellations not listened to', { error: String(err) });
  });
  const fastCancel = cancellations.watch(req.runId);
  try {
    const outcome = await callProvider(providerCallDeps(deps), {
      req,
      attempt: ctx.info.attempt,
      signal: AbortSignal.any([ctx.cancellationSignal, fastCancel.signal]),
      log: sqlAttemptLog(deps.sql),
      sink: createStreamPublisher(deps.sql, req.runId, (err) =>
        ctx.log.warn('stream delta not published', { runId: req.runId, error: String(err) }),
      ),
    });
    if (!outcome.ok && outcome.canceled) {
      await waitForAbort(ctx.cancellationSignal, CANCEL_CONFIRM_TIMEOUT_MS);
      if (ctx.cancellationSignal.aborted) throw ctx.cancellationSignal.reason;
      throw ApplicationFailure.create({
        type: 'STREAM_BROKEN',
        message: 'The client went away and the run could not be canceled',
        nonRetryable: true,
      });
    }
    return resultOf(ctx, req, outcome);
  } finally {
    fastCancel.release();
  }
}
