// One file on purpose until the direct-mode merge moves the provider call into workers/src/providers: the plain and
// streaming paths share the attempt recorder and the cancel-confirmation wait defined here.
import { randomUUID } from 'node:crypto';
import { finishAttempt, type RecordedOutcome, type Sql, startAttempt } from '@promptmill/infra/db';
import { createStreamPublisher, streamCancellationsFor } from '@promptmill/infra/run-stream';
import {
  estimatePromptTokens,
  type ModelCallRequest,
  type ModelCallResult,
  type TokenUsage,
} from '@promptmill/workflows';
import { ApplicationFailure, Context } from '@temporalio/activity';
import type { ChatCompletionCreateParamsNonStreaming } from 'openai/resources/chat/completions';
import type { CompletionUsage } from 'openai/resources/completions';
import type { WorkerMetrics } from '../metrics.ts';
import { type ModelPrice, usageWithCost } from '../providers/pricing.ts';
import type { ProviderRegistry } from '../providers/provider-registry.ts';
import { completeWithCall, recordedCallResult } from './complete-run.activity.ts';
import { oversizeOutputFailure } from './output-size.ts';
import { providerErrorDetail, toProviderFailure } from './provider-errors.ts';

export interface ModelCallDeps {
  sql: Sql;
  providers: ProviderRegistry;
  priceOf: (model: string) => ModelPrice | undefined;
  metrics: WorkerMetrics;
  /** A streaming call that receives nothing for this long is aborted (default 60 s). */
  streamIdleTimeoutMs?: number | undefined;
}

/**
 * Attempts are ordered per model: model index × 1000 + Temporal attempt number. A call a new worker
 * makes again after a crash has the same number (its row has its own attempt id).
 */
export function attemptSeq(modelIndex: number, attempt: number): number {
  return modelIndex * 1000 + attempt;
}

/**
 * A failed call's own text (the provider's error body, a transport error): logged here and kept
 * with the attempt's usage row (error_detail), for operators; never in the failure's message.
 */
function failureDetail(
  ctx: Context,
  req: ModelCallRequest,
  failure: ApplicationFailure,
  err: unknown,
): string {
  const detail = providerErrorDetail(err);
  ctx.log.warn('model call failed', {
    runId: req.runId,
    model: req.model,
    attempt: ctx.info.attempt,
    code: failure.type,
    message: failure.message,
    detail,
  });
  return detail;
}

export function buildCompletionParams(req: ModelCallRequest): ChatCompletionCreateParamsNonStreaming {
  const p = req.params;
  return {
    model: req.model,
    messages: req.messages,
    ...(p.temperature !== undefined ? { temperature: p.temperature } : {}),
    ...(p.maxTokens !== undefined ? { max_tokens: p.maxTokens } : {}),
    ...(p.topP !== undefined ? { top_p: p.topP } : {}),
    ...(p.stop !== undefined ? { stop: p.stop } : {}),
    ...(p.presencePenalty !== undefined ? { presence_penalty: p.presencePenalty } : {}),
    ...(p.frequencyPenalty !== undefined ? { frequency_penalty: p.frequencyPenalty } : {}),
    ...(p.seed !== undefined ? { seed: p.seed } : {}),
  };
}

interface AttemptRecorder {
  /** performance.now() when the provider call began */
  readonly started: number;
  /** the run's completion was already recorded (a repeated call): no row opened, nothing to call */
  readonly completed: RecordedOutcome | undefined;
  /**
   * Closes the call's usage row: what the provider reported, or what it must have billed; a failure
   * keeps its own text (`errorDetail`, not shown to tenants).
   */
  finish(
    status: 'succeeded' | 'failed',
    usage: TokenUsage,
    errorCode: string | null,
    errorDetail?: string,
  ): Promise<void>;
  /**
   * A successful call: closes its row and, when the workflow asked for it (completeOnSuccess),
   * records the run's completion in the same transaction and returns it.
   */
  succeed(usage: TokenUsage, output: string): Promise<ModelCallResult['completion']>;
}

/**
 * One provider call's usage row (usage_events kind 'attempt'), opened before the call with this
 * execution's own attempt id — a call a crash makes a new worker repeat is billed again, so it is
 * another row — and the prompt estimated, which is what the row keeps if the worker dies mid-call.
 * The run's first call also marks the run running.
 */
async function openAttempt(
  deps: ModelCallDeps,
  req: ModelCallRequest,
  attempt: number,
  provider: string,
): Promise<AttemptRecorder> {
  const attemptId = randomUUID();
  const completed = await startAttempt(deps.sql, {
    runId: req.runId,
    orgId: req.orgId,
    keyId: req.keyId,
    promptId: req.promptId,
    promptVersion: req.promptVersion,
    attemptId,
    seq: attemptSeq(req.modelIndex, attempt),
    model: req.model,
    provider,
    estimate: usageWithCost(estimatePromptTokens(req.messages), 0, deps.priceOf(req.model)),
    isFirst: req.modelIndex === 0 && attempt === 1,
  });
  const started = performance.now();
  const finish: AttemptRecorder['finish'] = (status, usage, errorCode, errorDetail) =>
    finishAttempt(deps.sql, {
      runId: req.runId,
      attemptId,
      status,
      errorCode,
      errorDetail: errorDetail ?? null,
      usage,
      latencyMs: Math.round(performance.now() - started),
    });
  return {
    started,
    completed,
    finish,
    succeed: async (usage, output) => {
      const closing = { runId: req.runId, attemptId, status: 'succeeded' as const, errorCode: null, usage };
      const latencyMs = Math.round(performance.now() - started);
      if (req.completeOnSuccess) return completeWithCall(deps, req, { ...closing, latencyMs }, output);
      await finishAttempt(deps.sql, { ...closing, latencyMs });
      return undefined;
    },
  };
}

export function createModelCallActivity(deps: ModelCallDeps) {
  return async function callModel(req: ModelCallRequest): Promise<ModelCallResult> {
    const ctx = Context.current();
    if (req.mode === 'stream') return streamModelCall(deps, req, ctx);
    const provider = deps.providers.forModel(req.model);
    // a sync run whose client went away is stopped at once too, as a stream is (the api's cancel NOTIFY)
    const cancellations = streamCancellationsFor(deps.sql);
    await cancellations.ready().catch((err: unknown) => {
      ctx.log.warn('run cancellations not listened to', { error: String(err) });
    });
    const attempt = await openAttempt(deps, req, ctx.info.attempt, provider.name);
    if (attempt.completed) return recordedCallResult(req, provider.name, attempt.completed);
    const { started } = attempt;
    const fastCancel = cancellations.watch(req.runId);
    try {
      const completion = await provider.client.chat.completions.create(buildCompletionParams(req), {
        signal: AbortSignal.any([ctx.cancellationSignal, fastCancel.signal]),
      });
      const seconds = (performance.now() - started) / 1000;
      deps.metrics.observeProviderLatency(provider.name, req.model, seconds);
      const usage = usageWithCost(
        completion.usage?.prompt_tokens ?? 0,
        completion.usage?.completion_tokens ?? 0,
        // a provider may answer under another name (a snapshot, an alias): then the asked model's price
        deps.priceOf(completion.model || req.model) ?? deps.priceOf(req.model),
      );
      const output = completion.choices[0]?.message?.content ?? '';
      const oversize = oversizeOutputFailure(output, req.model);
      if (oversize) {
        await attempt.finish('failed', usage, 'PROVIDER_REJECTED');
        throw oversize;
      }
      const recorded = await attempt.succeed(usage, output);
      return {
        output,
        model: req.model,
        provider: provider.name,
        usage,
        latencyMs: Math.round(seconds * 1000),
        ...(recorded ? { completion: recorded } : {}),
      };
    } catch (err) {
      if (err instanceof ApplicationFailure) throw err; // ours, already recorded
      deps.metrics.observeProviderLatency(provider.name, req.model, (performance.now() - started) / 1000);
      if (ctx.cancellationSignal.aborted || fastCancel.signal.aborted) {
        // canceled, not failed: no answer came, so nothing is billed; never retried
        await attempt.finish('failed', usageWithCost(0, 0, undefined), 'RUN_CANCELED');
        await waitForAbort(ctx.cancellationSignal, CANCEL_CONFIRM_TIMEOUT_MS);
        if (ctx.cancellationSignal.aborted) throw ctx.cancellationSignal.reason;
        throw ApplicationFailure.create({
          type: 'RUN_CANCELED',
          message: 'The client went away and the run could not be canceled',
          nonRetryable: true,
        });
      }
      const failure = toProviderFailure(err, req.model);
      const code = failure.type ?? 'PROVIDER_ERROR';
      await attempt.finish(
        'failed',
        usageWithCost(0, 0, undefined),
        code,
        failureDetail(ctx, req, failure, err),
      );
      throw failure;
    } finally {
      fastCancel.release();
    }
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
 * arrives (@promptmill/infra/run-stream). Before the first delta a failure is an ordinary provider failure
 * (retried, then the fallback models); after it nothing may be retried — the client has already
 * seen part of an answer — so the failure is non-retryable STREAM_BROKEN. Broken and canceled
 * streams record the tokens streamed so far (the provider's usage chunk never came): completion
 * tokens = content chunks received, prompt tokens estimated.
 */
export async function streamModelCall(
  deps: ModelCallDeps,
  req: ModelCallRequest,
  ctx: Context,
): Promise<ModelCallResult> {
  const provider = deps.providers.forModel(req.model);
  const price = deps.priceOf(req.model);
  const cancellations = streamCancellationsFor(deps.sql);
  // without the listener a disconnect still cancels the run, only later (workflow-task heartbeat)
  await cancellations.ready().catch((err: unknown) => {
    ctx.log.warn('stream cancellations not listened to', { error: String(err) });
  });
  const attempt = await openAttempt(deps, req, ctx.info.attempt, provider.name);
  if (attempt.completed) return recordedCallResult(req, provider.name, attempt.completed);
  const { started } = attempt;
  const fastCancel = cancellations.watch(req.runId);
  const idle = new AbortController();
  const idleMs = deps.streamIdleTimeoutMs ?? 60_000;
  const idleTimer = setTimeout(() => idle.abort(), idleMs);
  const signal = AbortSignal.any([ctx.cancellationSignal, fastCancel.signal, idle.signal]);
  const publisher = createStreamPublisher(deps.sql, req.runId, (err) =>
    ctx.log.warn('stream delta not published', { runId: req.runId, error: String(err) }),
  );
  let output = '';
  let contentChunks = 0;
  let finishReason: string | null = null;
  let reported: CompletionUsage | undefined;

  const observeLatency = () =>
    deps.metrics.observeProviderLatency(provider.name, req.model, (performance.now() - started) / 1000);
  const streamedSoFar = () =>
    usageWithCost(contentChunks > 0 ? estimatePromptTokens(req.messages) : 0, contentChunks, price);

  try {
    const stream = await provider.client.chat.completions.create(
      { ...buildCompletionParams(req), stream: true, stream_options: { include_usage: true } },
      { signal },
    );
    for await (const chunk of stream) {
      idleTimer.refresh();
      const choice = chunk.choices[0];
      const delta = choice?.delta?.content;
      if (delta) {
        output += delta;
        contentChunks += 1;
        publisher.push(delta);
      }
      if (choice?.finish_reason) finishReason = choice.finish_reason;
      if (chunk.usage) reported = chunk.usage;
    }
    // a connection cut between events can end the iteration without an error
    if (finishReason === null) throw new Error('the stream ended without a finish reason');
    await publisher.end();
    observeLatency();
    const usage = reported
      ? usageWithCost(reported.prompt_tokens, reported.completion_tokens, price)
      : usageWithCost(estimatePromptTokens(req.messages), contentChunks, price);
    const oversize = oversizeOutputFailure(output, req.model);
    if (oversize) {
      await attempt.finish('failed', usage, 'PROVIDER_REJECTED');
      throw oversize;
    }
    const recorded = await attempt.succeed(usage, output);
    return {
      output,
      model: req.model,
      provider: provider.name,
      usage,
      latencyMs: Math.round(performance.now() - started),
      ...(recorded ? { completion: recorded } : {}),
    };
  } catch (err) {
    if (err instanceof ApplicationFailure) throw err; // ours, already recorded
    observeLatency();
    if (ctx.cancellationSignal.aborted || fastCancel.signal.aborted) {
      await publisher.flush();
      await attempt.finish('failed', streamedSoFar(), 'RUN_CANCELED');
      await waitForAbort(ctx.cancellationSignal, CANCEL_CONFIRM_TIMEOUT_MS);
      if (ctx.cancellationSignal.aborted) throw ctx.cancellationSignal.reason;
      throw ApplicationFailure.create({
        type: 'STREAM_BROKEN',
        message: 'The client went away and the run could not be canceled',
        nonRetryable: true,
      });
    }
    const idleFor = `no data for ${idleMs} ms`;
    // what broke, for the log and the attempt record: the transport's error, or the idle timeout
    const cause = idle.signal.aborted ? new Error(`idle stream: ${idleFor}`) : err;
    if (contentChunks > 0) {
      await publisher.end();
      const broken = ApplicationFailure.create({
        type: 'STREAM_BROKEN',
        message: `The stream from model '${req.model}' broke after ${contentChunks} chunks`,
        nonRetryable: true,
      });
      await attempt.finish(
        'failed',
        streamedSoFar(),
        'STREAM_BROKEN',
        failureDetail(ctx, req, broken, cause),
      );
      throw broken;
    }
    const failure = idle.signal.aborted
      ? ApplicationFailure.create({
          type: 'PROVIDER_ERROR',
          message: `Model '${req.model}' timed out (${idleFor})`,
        })
      : toProviderFailure(err, req.model);
    const code = failure.type ?? 'PROVIDER_ERROR';
    await attempt.finish(
      'failed',
      usageWithCost(0, 0, undefined),
      code,
      failureDetail(ctx, req, failure, cause),
    );
    throw failure;
  } finally {
    clearTimeout(idleTimer);
    fastCancel.release();
  }
}
