/**
 * A provider call's usage row (usage_events kind 'attempt'): opened before the call, closed after
 * it — through an AttemptLog, so the worker's activity and the api's direct mode each decide how the
 * row is written (and whether the successful call records the run's completion with it).
 */
import { randomUUID } from 'node:crypto';
import {
  type AttemptEnd,
  type AttemptStart,
  finishAttempt,
  type Queryable,
  startAttempt,
} from '@promptmill/infra/db';
import {
  estimatePromptTokens,
  type ModelCallRequest,
  type ModelCallResult,
  type RunCompletionResult,
  type TokenUsage,
} from '@promptmill/workflows';
import { usageWithCost } from '../providers/pricing.ts';
import type { ProviderCall, ProviderCallDeps, ProviderCallOutcome } from './provider-call.ts';

/** Where a call's usage row goes: opened before the call, closed after it. */
export interface AttemptLog {
  /**
   * Opens the call's row. A result instead means the run's completion is already recorded (a call
   * repeated after its worker died): no row is opened and the provider is not called.
   */
  open(start: AttemptStart): Promise<ModelCallResult | undefined>;
  finish(end: AttemptEnd): Promise<void>;
  /**
   * Closes a successful call's row (else `finish` does); it may record the run's completion in the
   * same transaction, returned with the call's result.
   */
  succeed?(end: AttemptEnd, output: string): Promise<RunCompletionResult | undefined>;
}

/** The attempt rows written as they happen (startAttempt / finishAttempt). */
export function sqlAttemptLog(sql: Queryable): AttemptLog {
  return {
    open: async (start) => {
      await startAttempt(sql, start);
      return undefined;
    },
    finish: (end) => finishAttempt(sql, end),
  };
}

/**
 * Attempts are ordered per model: model index × 1000 + attempt number. A call a new worker makes
 * again after a crash has the same number (its row has its own attempt id).
 */
export function attemptSeq(modelIndex: number, attempt: number): number {
  return modelIndex * 1000 + attempt;
}

/**
 * One provider call's usage row (usage_events kind 'attempt'), opened before the call with its own
 * attempt id — a call a crash makes a new process repeat is billed again, so it is another row — and
 * the prompt estimated, which is what the row keeps if the process dies mid-call. The run's first
 * call also marks the run running.
 */
export function attemptStartOf(
  deps: Pick<ProviderCallDeps, 'priceOf'>,
  req: ModelCallRequest,
  attempt: number,
  provider: string,
): AttemptStart {
  return {
    runId: req.runId,
    orgId: req.orgId,
    keyId: req.keyId,
    promptId: req.promptId,
    promptVersion: req.promptVersion,
    attemptId: randomUUID(),
    seq: attemptSeq(req.modelIndex, attempt),
    model: req.model,
    provider,
    estimate: usageWithCost(estimatePromptTokens(req.messages), 0, deps.priceOf(req.model)),
    isFirst: req.modelIndex === 0 && attempt === 1,
  };
}

export interface OpenAttempt {
  /** performance.now() when the provider call began */
  readonly started: number;
  /** the run's completion was already recorded: its result (no row opened, nothing to call) */
  readonly recorded: ModelCallResult | undefined;
  /** Closes the call's usage row: what the provider reported, or what it must have billed. */
  finish(
    status: 'succeeded' | 'failed',
    usage: TokenUsage,
    errorCode: string | null,
    errorDetail?: string,
  ): Promise<void>;
  /** A successful call: the call's result, with the run's completion when the log recorded it too. */
  succeed(result: ModelCallResult): Promise<ProviderCallOutcome>;
}

export async function openAttempt(
  deps: ProviderCallDeps,
  call: ProviderCall,
  provider: string,
): Promise<OpenAttempt> {
  const start = attemptStartOf(deps, call.req, call.attempt, provider);
  const recorded = await call.log.open(start);
  const started = performance.now();
  const endOf = (
    status: 'succeeded' | 'failed',
    usage: TokenUsage,
    errorCode: string | null,
    errorDetail?: string,
  ): AttemptEnd => ({
    runId: start.runId,
    attemptId: start.attemptId,
    status,
    errorCode,
    errorDetail: errorDetail ?? null,
    usage,
    latencyMs: Math.round(performance.now() - started),
  });
  return {
    started,
    recorded,
    finish: (status, usage, errorCode, errorDetail) =>
      call.log.finish(endOf(status, usage, errorCode, errorDetail)),
    async succeed(result) {
      const end = endOf('succeeded', result.usage, null);
      if (!call.log.succeed) {
        await call.log.finish(end);
        return { ok: true, result };
      }
      const completion = await call.log.succeed(end, result.output);
      return { ok: true, result: completion ? { ...result, completion } : result };
    },
  };
}
