/**
 * One provider call, with or without Temporal: make the call (plain or streaming), record its
 * attempt row, classify its failure. The worker's model-call activity wraps it (Temporal context,
 * cancellation, ApplicationFailure); the api's direct mode calls it in its own retry loop
 * (@promptmill/workers/provider-call). Nothing here imports Temporal.
 */
import { estimatePromptTokens, type ModelCallRequest, type ModelCallResult } from '@promptmill/workflows';
import type { ChatCompletionCreateParamsNonStreaming } from 'openai/resources/chat/completions';
import type { CompletionUsage } from 'openai/resources/completions';
import type { RunMetrics } from '../metrics.ts';
import { type ModelPrice, usageWithCost } from '../providers/pricing.ts';
import type { ProviderRegistry } from '../providers/provider-registry.ts';
import { type AttemptLog, openAttempt } from './attempt-log.ts';
import { oversizeOutputFailure } from './output-size.ts';
import { classifyProviderError, type ProviderFailure, providerErrorDetail } from './provider-failure.ts';

export { type AttemptLog, attemptSeq, attemptStartOf, sqlAttemptLog } from './attempt-log.ts';

export interface ProviderCallDeps {
  providers: ProviderRegistry;
  priceOf: (model: string) => ModelPrice | undefined;
  metrics: Pick<RunMetrics, 'observeProviderLatency'>;
  /** A streaming call that receives nothing for this long is aborted (default 60 s). */
  streamIdleTimeoutMs?: number | undefined;
}

/** Where a streaming call's deltas go: the run-stream publisher (worker) or the SSE response (api). */
export interface DeltaSink {
  /** Takes a delta; returns at once (never blocks reading the provider stream). */
  push(delta: string): void;
  /** Resolves once everything pushed so far is out. */
  flush(): Promise<void>;
  /** Flushes, then marks the end of the text. */
  end(): Promise<void>;
}

export interface ProviderCall {
  req: ModelCallRequest;
  /** the call's number on its model (1-based): with the model index, numbers its usage row */
  attempt: number;
  /** aborting it stops the provider request at once (the run is being canceled) */
  signal: AbortSignal;
  log: AttemptLog;
  /** streaming calls (`req.mode === 'stream'`): where each delta goes */
  sink?: DeltaSink | undefined;
}

export type ProviderCallOutcome =
  | { ok: true; result: ModelCallResult }
  /** `canceled`: the call stopped because `signal` aborted */
  | { ok: false; failure: ProviderFailure; canceled: boolean };

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

const CANCELED: ProviderFailure = { code: 'RUN_CANCELED', message: 'Run was canceled', nonRetryable: true };

const failed = (failure: ProviderFailure, canceled = false): ProviderCallOutcome => ({
  ok: false,
  failure,
  canceled,
});

/** Makes one provider call (plain, or streaming when `req.mode` is 'stream') and records it. */
export function callProvider(deps: ProviderCallDeps, call: ProviderCall): Promise<ProviderCallOutcome> {
  return call.req.mode === 'stream' ? streamProviderCall(deps, call) : plainProviderCall(deps, call);
}

async function plainProviderCall(deps: ProviderCallDeps, call: ProviderCall): Promise<ProviderCallOutcome> {
  const { req } = call;
  const provider = deps.providers.forModel(req.model);
  const attempt = await openAttempt(deps, call, provider.name);
  if (attempt.recorded) return { ok: true, result: attempt.recorded };
  const { started } = attempt;
  let completion: Awaited<ReturnType<typeof provider.client.chat.completions.create>>;
  try {
    completion = await provider.client.chat.completions.create(buildCompletionParams(req), {
      signal: call.signal,
    });
  } catch (err) {
    deps.metrics.observeProviderLatency(provider.name, req.model, (performance.now() - started) / 1000);
    const detail = providerErrorDetail(err);
    if (call.signal.aborted) {
      // canceled, not failed: no answer came, so nothing is billed; never retried
      await attempt.finish('failed', usageWithCost(0, 0, undefined), 'RUN_CANCELED', detail);
      return failed({ ...CANCELED, detail }, true);
    }
    const failure = { ...classifyProviderError(err, req.model), detail };
    await attempt.finish('failed', usageWithCost(0, 0, undefined), failure.code, failure.detail);
    return failed(failure);
  }
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
    return failed(oversize);
  }
  return attempt.succeed({
    output,
    model: req.model,
    provider: provider.name,
    usage,
    latencyMs: Math.round(seconds * 1000),
  });
}

/**
 * The streaming call: each content delta goes to the sink as it arrives. Before the first delta a
 * failure is an ordinary provider failure (retried, then the fallback models); after it nothing may
 * be retried — the client has already seen part of an answer — so the failure is non-retryable
 * STREAM_BROKEN. Broken and canceled streams record the tokens streamed so far (the provider's usage
 * chunk never came): completion tokens = content chunks received, prompt tokens estimated.
 */
async function streamProviderCall(deps: ProviderCallDeps, call: ProviderCall): Promise<ProviderCallOutcome> {
  const { req } = call;
  const sink = call.sink ?? NO_SINK;
  const provider = deps.providers.forModel(req.model);
  const price = deps.priceOf(req.model);
  const attempt = await openAttempt(deps, call, provider.name);
  if (attempt.recorded) return { ok: true, result: attempt.recorded };
  const { started } = attempt;
  const idleMs = deps.streamIdleTimeoutMs ?? 60_000;
  // the request stops when the call is canceled or the stream goes idle (forwarded by hand:
  // AbortSignal.any is costly per call)
  const stop = new AbortController();
  let isIdle = false;
  const idleTimer = setTimeout(() => {
    isIdle = true;
    stop.abort();
  }, idleMs);
  const onCancel = () => stop.abort();
  if (call.signal.aborted) stop.abort();
  else call.signal.addEventListener('abort', onCancel, { once: true });
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
      { signal: stop.signal },
    );
    for await (const chunk of stream) {
      idleTimer.refresh();
      const choice = chunk.choices[0];
      const delta = choice?.delta?.content;
      if (delta) {
        output += delta;
        contentChunks += 1;
        sink.push(delta);
      }
      if (choice?.finish_reason) finishReason = choice.finish_reason;
      if (chunk.usage) reported = chunk.usage;
    }
    // a connection cut between events can end the iteration without an error
    if (finishReason === null) throw new Error('the stream ended without a finish reason');
  } catch (err) {
    observeLatency();
    if (call.signal.aborted) {
      await sink.flush();
      await attempt.finish('failed', streamedSoFar(), 'RUN_CANCELED');
      return failed(CANCELED, true);
    }
    const idleFor = `no data for ${idleMs} ms`;
    // what broke, for the log and the attempt record: the transport's error, or the idle timeout
    const detail = providerErrorDetail(isIdle ? new Error(`idle stream: ${idleFor}`) : err);
    if (contentChunks > 0) {
      await sink.end();
      const broken: ProviderFailure = {
        code: 'STREAM_BROKEN',
        message: `The stream from model '${req.model}' broke after ${contentChunks} chunks`,
        nonRetryable: true,
        detail,
      };
      await attempt.finish('failed', streamedSoFar(), 'STREAM_BROKEN', detail);
      return failed(broken);
    }
    const failure: ProviderFailure = isIdle
      ? {
          code: 'PROVIDER_ERROR',
          message: `Model '${req.model}' timed out (${idleFor})`,
          nonRetryable: false,
        }
      : classifyProviderError(err, req.model);
    await attempt.finish('failed', usageWithCost(0, 0, undefined), failure.code, detail);
    return failed({ ...failure, detail });
  } finally {
    clearTimeout(idleTimer);
    call.signal.removeEventListener('abort', onCancel);
  }
  await sink.end();
  observeLatency();
  const usage = reported
    ? usageWithCost(reported.prompt_tokens, reported.completion_tokens, price)
    : usageWithCost(estimatePromptTokens(req.messages), contentChunks, price);
  const oversize = oversizeOutputFailure(output, req.model);
  if (oversize) {
    await attempt.finish('failed', usage, 'PROVIDER_REJECTED');
    return failed(oversize);
  }
  return attempt.succeed({
    output,
    model: req.model,
    provider: provider.name,
    usage,
    latencyMs: Math.round(performance.now() - started),
  });
}

const NO_SINK: DeltaSink = {
  push: () => {},
  flush: async () => {},
  end: async () => {},
};
