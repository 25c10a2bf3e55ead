import { z } from 'zod';
import type { ERROR_TABLE, ErrorCode } from './errors.ts';

export const TASK_QUEUE = 'promptmill-runs';

/**
 * The most a run's rendered messages (the workflow input) and its output may each have, in bytes of
 * JSON (UTF-8). Both travel as Temporal payloads, which a Temporal server refuses above its blob
 * size limit (2 MB by default; the dev server warns from 512 KB): the margin leaves room for the
 * rest of the input and for encoding. The api refuses larger prompts before the run exists (413
 * PROMPT_TOO_LARGE); the worker fails a run whose provider answers with more (PROVIDER_ERROR).
 */
export const MAX_RUN_PAYLOAD_BYTES = 1_500_000;

export const chatMessageSchema = z.object({
  role: z.enum(['system', 'user', 'assistant']),
  content: z.string(),
});
export type ChatMessage = z.infer<typeof chatMessageSchema>;

export const modelParamsSchema = z
  .object({
    // the message of the seed's example error (002): details [{ field: 'params.temperature', message }]
    temperature: z.number().min(0, 'Must be between 0 and 2').max(2, 'Must be between 0 and 2').optional(),
    maxTokens: z.number().int().min(1).max(1_000_000).optional(),
    topP: z.number().min(0, 'Must be between 0 and 1').max(1, 'Must be between 0 and 1').optional(),
    stop: z.union([z.string(), z.array(z.string()).max(4)]).optional(),
    presencePenalty: z.number().min(-2).max(2).optional(),
    frequencyPenalty: z.number().min(-2).max(2).optional(),
    seed: z.number().int().optional(),
  })
  .strict();
export type ModelParams = z.infer<typeof modelParamsSchema>;

export type RunMode = 'sync' | 'stream' | 'async';

/** A run's mode as recorded: how it was asked for, or `direct` when the api process ran it (SYNC_RUN_MODE=direct). */
export type RunRecordMode = RunMode | 'direct';

/**
 * Who and what a run is. Every activity request of a run and every run query carries it, so the
 * usage rows, the run row and the metrics all name the same run, organization, key and version.
 */
export interface RunIdentity {
  runId: string;
  orgId: string;
  keyId: string | null;
  promptId: string;
  promptVersion: number;
}

/** What the api hands to the run workflow: the prompt is already resolved and rendered. */
export interface RunPromptInput extends RunIdentity {
  /** the metrics label of the run's prompt */
  promptName: string;
  versionId: string;
  model: string;
  fallbackModels: string[];
  messages: ChatMessage[];
  params: ModelParams;
  mode: RunMode;
  /** Identical-request cache key, set when the version has cacheTtlSeconds. */
  cacheKey?: string | undefined;
  cacheTtlSeconds?: number | undefined;
}

export interface TokenUsage {
  promptTokens: number;
  completionTokens: number;
  totalTokens: number;
  cost: number;
}

export const ZERO_USAGE: TokenUsage = { promptTokens: 0, completionTokens: 0, totalTokens: 0, cost: 0 };

export function addUsage(a: TokenUsage, b: TokenUsage): TokenUsage {
  return {
    promptTokens: a.promptTokens + b.promptTokens,
    completionTokens: a.completionTokens + b.completionTokens,
    totalTokens: a.totalTokens + b.totalTokens,
    cost: Math.round((a.cost + b.cost) * 1e9) / 1e9,
  };
}

export interface ModelCallResult {
  output: string;
  model: string;
  provider: string;
  usage: TokenUsage;
  latencyMs: number;
  /**
   * Present when the call also recorded the run's completion (ModelCallRequest.completeOnSuccess),
   * or found it already recorded: the workflow then schedules no completeRun.
   */
  completion?: RunCompletionResult | undefined;
}

/** A run's totals after its completion. */
export interface RunCompletionResult {
  usage: TokenUsage;
  attempts: number;
  /**
   * Set when an earlier completion of the run had been recorded (a retried or repeated activity, a
   * success recorded just before a cancellation won the race in the workflow): that outcome stands.
   */
  final?: RecordedRunOutcome | undefined;
}

export interface RecordedRunOutcome {
  status: 'succeeded' | 'failed' | 'canceled';
  output: string | null;
  model: string;
  error: RunError | null;
}

export interface RunError {
  code: ErrorCode;
  message: string;
}

export interface RunOutcome {
  runId: string;
  status: 'succeeded' | 'failed' | 'canceled';
  output: string | null;
  model: string;
  usage: TokenUsage;
  attempts: number;
  durationMs: number;
  error: RunError | null;
}

/** Failure types used by activities (ApplicationFailure.type) → API error code. */
export const FAILURE_TYPES = {
  providerRetryable: 'PROVIDER_ERROR',
  providerRejected: 'PROVIDER_REJECTED',
  streamBroken: 'STREAM_BROKEN',
} as const satisfies Record<string, keyof typeof ERROR_TABLE>;
