import { insertAttemptUsage, markRunRunning, type Sql } from '@promptmill/infra/db';
import type { ModelCallRequest, ModelCallResult, TokenUsage } from '@promptmill/workflows';
import { ApplicationFailure, Context } from '@temporalio/activity';
import OpenAI from 'openai';
import type { ChatCompletionCreateParamsNonStreaming } from 'openai/resources/chat/completions';
import type { WorkerMetrics } from '../metrics.ts';
import { type ModelPrice, usageWithCost } from '../providers/pricing.ts';
import type { ProviderRegistry } from '../providers/provider-registry.ts';

export interface ModelCallDeps {
  sql: Sql;
  providers: ProviderRegistry;
  priceOf: (model: string) => ModelPrice | undefined;
  metrics: WorkerMetrics;
}

/** Attempts are numbered per model: model index × 1000 + Temporal attempt number. */
export function attemptSeq(modelIndex: number, attempt: number): number {
  return modelIndex * 1000 + attempt;
}

function retryAfterMs(headers: Headers | undefined): number | undefined {
  const value = headers?.get('retry-after');
  if (!value) return undefined;
  const seconds = Number(value);
  if (Number.isFinite(seconds)) return Math.max(0, seconds * 1000);
  const date = Date.parse(value);
  return Number.isNaN(date) ? undefined : Math.max(0, date - Date.now());
}

/**
 * Provider errors → Temporal failures. 429, 5xx, timeouts and connection errors are retryable
 * (a Retry-After header sets the next delay); any other 4xx is not (PROVIDER_REJECTED).
 */
export function toProviderFailure(err: unknown, model: string): ApplicationFailure {
  if (err instanceof OpenAI.APIConnectionTimeoutError) {
    return ApplicationFailure.create({ type: 'PROVIDER_ERROR', message: `Model '${model}' timed out` });
  }
  if (err instanceof OpenAI.APIConnectionError) {
    return ApplicationFailure.create({
      type: 'PROVIDER_ERROR',
      message: `Model '${model}' is unreachable: ${err.message}`,
    });
  }
  if (err instanceof OpenAI.APIError && typeof err.status === 'number') {
    const status = err.status;
    const detail = `Model '${model}' failed with HTTP ${status}: ${err.message}`;
    if (status === 429 || status === 408 || status >= 500) {
      const delay = status === 429 ? retryAfterMs(err.headers) : undefined;
      return ApplicationFailure.create({
        type: 'PROVIDER_ERROR',
        message: detail,
        ...(delay !== undefined ? { nextRetryDelay: delay } : {}),
      });
    }
    return ApplicationFailure.create({ type: 'PROVIDER_REJECTED', message: detail, nonRetryable: true });
  }
  const message = err instanceof Error ? err.message : String(err);
  return ApplicationFailure.create({
    type: 'PROVIDER_ERROR',
    message: `Model '${model}' call failed: ${message}`,
  });
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

export function createModelCallActivity(deps: ModelCallDeps) {
  return async function callModel(req: ModelCallRequest): Promise<ModelCallResult> {
    const ctx = Context.current();
    const attempt = ctx.info.attempt;
    if (req.modelIndex === 0 && attempt === 1) await markRunRunning(deps.sql, req.runId);
    const provider = deps.providers.forModel(req.model);
    const started = performance.now();
    const record = (status: 'succeeded' | 'failed', usage: TokenUsage, errorCode: string | null) =>
      insertAttemptUsage(deps.sql, {
        orgId: req.orgId,
        keyId: req.keyId,
        runId: req.runId,
        seq: attemptSeq(req.modelIndex, attempt),
        promptId: req.promptId,
        promptVersion: req.promptVersion,
        model: req.model,
        provider: provider.name,
        status,
        errorCode,
        usage,
        latencyMs: Math.round(performance.now() - started),
      });
    try {
      const completion = await provider.client.chat.completions.create(buildCompletionParams(req), {
        signal: ctx.cancellationSignal,
      });
      const seconds = (performance.now() - started) / 1000;
      deps.metrics.providerLatency.observe({ provider: provider.name, model: req.model }, seconds);
      const usage = usageWithCost(
        completion.usage?.prompt_tokens ?? 0,
        completion.usage?.completion_tokens ?? 0,
        deps.priceOf(completion.model || req.model),
      );
      await record('succeeded', usage, null);
      return {
        output: completion.choices[0]?.message?.content ?? '',
        model: req.model,
        provider: provider.name,
        usage,
        latencyMs: Math.round(seconds * 1000),
      };
    } catch (err) {
      const failure = toProviderFailure(err, req.model);
      deps.metrics.providerLatency.observe(
        { provider: provider.name, model: req.model },
        (performance.now() - started) / 1000,
      );
      await record('failed', usageWithCost(0, 0, undefined), failure.type ?? 'PROVIDER_ERROR');
      throw failure;
    }
  };
}
