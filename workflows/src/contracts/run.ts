import { z } from 'zod';
import type { ERROR_TABLE, ErrorCode } from './errors.ts';

export const TASK_QUEUE = 'promptmill-runs';

export const chatMessageSchema = z.object({
  role: z.enum(['system', 'user', 'assistant']),
  content: z.string(),
});
export type ChatMessage = z.infer<typeof chatMessageSchema>;

export const modelParamsSchema = z
  .object({
    temperature: z.number().min(0).max(2).optional(),
    maxTokens: z.number().int().min(1).max(1_000_000).optional(),
    topP: z.number().min(0).max(1).optional(),
    stop: z.union([z.string(), z.array(z.string()).max(4)]).optional(),
    presencePenalty: z.number().min(-2).max(2).optional(),
    frequencyPenalty: z.number().min(-2).max(2).optional(),
    seed: z.number().int().optional(),
  })
  .strict();
export type ModelParams = z.infer<typeof modelParamsSchema>;

export type RunMode = 'sync' | 'stream' | 'async';

/** What the api hands to the run workflow: the prompt is already resolved and rendered. */
export interface RunPromptInput {
  runId: string;
  orgId: string;
  keyId: string | null;
  promptId: string;
  promptName: string;
  promptVersion: number;
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

/**
 * Streaming runs: the worker publishes each delta with Postgres NOTIFY on RUN_STREAM_CHANNEL and the
 * api process holding the client's connection relays it as SSE; when the client goes away the api
 * NOTIFYs RUN_CANCEL_CHANNEL (payload = run id) so the worker stops the provider request at once.
 */
export const RUN_STREAM_CHANNEL = 'pm_run_stream';
export const RUN_CANCEL_CHANNEL = 'pm_run_cancel';

/** NOTIFY payloads must stay under 8000 bytes; longer deltas are split across messages. */
export const STREAM_NOTIFY_MAX_BYTES = 7_900;

/**
 * A delta, placed by its offset in the output (UTF-16 code units before it), or the end marker with
 * the output's length. Offsets, not sequence numbers: a call re-run after a worker crash may group
 * the same text into different deltas, and the api must still write every character exactly once.
 */
export const runStreamMessageSchema = z.union([
  z.object({ run: z.string().min(1), offset: z.number().int().min(0), delta: z.string() }),
  z.object({ run: z.string().min(1), end: z.literal(true), length: z.number().int().min(0) }),
]);
export type RunStreamMessage = z.infer<typeof runStreamMessageSchema>;
