import { finishAttempt, type Sql, startAttempt } from '@promptmill/infra/db';
import { createStreamPublisher, streamCancellationsFor } from '@promptmill/infra/run-stream';
import type { ModelCallRequest, ModelCallResult } from '@promptmill/workflows';
import { ApplicationFailure, Context } from '@temporalio/activity';
import type { WorkerMetrics } from '../metrics.ts';
import {
  type AttemptLog,
  callProvider,
  type ProviderCallDeps,
  type ProviderCallOutcome,
} from '../provider-call/provider-call.ts';
import type { ModelPrice } from '../providers/pricing.ts';
import type { ProviderRegistry } from '../providers/provider-registry.ts';
import { completeWithCall, recordedCallResult } from './complete-run.activity.ts';
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

/**
 * The call's usage row, written as it happens. A run whose completion is already recorded (a worker
 * died after recording it, before the workflow heard of it) is not called again: its recorded
 * outcome is the result. A success the workflow asked to complete the run with (completeOnSuccess)
 * closes its row and records the run's completion in one transaction (complete-run.activity.ts).
 */
function activityAttemptLog(deps: ModelCallDeps, req: ModelCallRequest): AttemptLog {
  return {
    async open(start) {
      const done = await startAttempt(deps.sql, start);
      return done ? recordedCallResult(req, start.provider, done) : undefined;
    },
    finish: (end) => finishAttempt(deps.sql, end),
    async succeed(end, output) {
      if (req.completeOnSuccess) return completeWithCall(deps, req, end, output);
      await finishAttempt(deps.sql, end);
      return undefined;
    },
  };
}

export function createModelCallActivity(deps: ModelCallDeps) {
  const callDeps = providerCallDeps(deps);
  return async function callModel(req: ModelCallRequest): Promise<ModelCallResult> {
    return watchedModelCall(deps, callDeps, req, Context.current());
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

/** How long a call stopped by the api's fast cancel waits for the workflow's own cancellation. */
const CANCEL_CONFIRM_TIMEOUT_MS = 30_000;

/**
 * The provider call, plain or streaming (`mode: 'stream'`: each content delta is published to the
 * api as it arrives, @promptmill/infra/run-stream). A client that goes away cancels the workflow;
 * the api also asks this worker to stop the provider request at once (a workflow cancellation
 * reaches a running local activity only at its next workflow-task heartbeat). Retries,
 * STREAM_BROKEN and the usage of broken and canceled calls: provider-call.ts.
 */
async function watchedModelCall(
  deps: ModelCallDeps,
  callDeps: ProviderCallDeps,
  req: ModelCallRequest,
  ctx: Context,
): Promise<ModelCallResult> {
  const cancellations = streamCancellationsFor(deps.sql);
  // without the listener a disconnect still cancels the run, only later (workflow-task heartbeat)
  await cancellations.ready().catch((err: unknown) => {
    ctx.log.warn('run cancellations not listened to', { error: String(err) });
  });
  const fastCancel = cancellations.watch(req.runId);
  // either one stops the call (forwarded by hand: AbortSignal.any is costly per call)
  const stop = new AbortController();
  const abort = () => stop.abort();
  const sources = [ctx.cancellationSignal, fastCancel.signal];
  for (const source of sources) {
    if (source.aborted) stop.abort();
    else source.addEventListener('abort', abort, { once: true });
  }
  try {
    const outcome = await callProvider(callDeps, {
      req,
      attempt: ctx.info.attempt,
      signal: stop.signal,
      log: activityAttemptLog(deps, req),
      sink:
        req.mode === 'stream'
          ? createStreamPublisher(deps.sql, req.runId, (err) =>
              ctx.log.warn('stream delta not published', { runId: req.runId, error: String(err) }),
            )
          : undefined,
    });
    if (!outcome.ok && outcome.canceled) {
      // canceled, not failed: wait for the workflow's own cancellation, which the api asked for too
      await waitForAbort(ctx.cancellationSignal, CANCEL_CONFIRM_TIMEOUT_MS);
      if (ctx.cancellationSignal.aborted) throw ctx.cancellationSignal.reason;
      throw ApplicationFailure.create({
        type: req.mode === 'stream' ? 'STREAM_BROKEN' : 'RUN_CANCELED',
        message: 'The client went away and the run could not be canceled',
        nonRetryable: true,
      });
    }
    return resultOf(ctx, req, outcome);
  } finally {
    for (const source of sources) source.removeEventListener('abort', abort);
    fastCancel.release();
  }
}
