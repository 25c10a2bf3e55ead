import type { ErrorCode } from './errors.ts';
import type { ChatMessage, ModelCallResult, ModelParams, RunIdentity, RunMode, TokenUsage } from './run.ts';

export interface ModelCallRequest extends RunIdentity {
  model: string;
  /** Position of this model in [model, ...fallbackModels]; numbers the attempts recorded in usage. */
  modelIndex: number;
  messages: ChatMessage[];
  params: ModelParams;
  mode: RunMode;
}

export interface RunCompletionRequest extends RunIdentity {
  /** the metrics label of the run's prompt */
  promptName: string;
  status: 'succeeded' | 'failed' | 'canceled';
  output: string | null;
  model: string;
  errorCode: ErrorCode | null;
  errorMessage: string | null;
  latencyMs: number;
  cacheKey?: string | undefined;
  cacheTtlSeconds?: number | undefined;
}

export interface RunCompletionResult {
  usage: TokenUsage;
  attempts: number;
}

/** The activities the run workflow schedules; workers implement them (createActivities). */
export interface RunActivities {
  callModel(req: ModelCallRequest): Promise<ModelCallResult>;
  completeRun(req: RunCompletionRequest): Promise<RunCompletionResult>;
}
