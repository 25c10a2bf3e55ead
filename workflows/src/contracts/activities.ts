import type { ErrorCode } from './errors.ts';
import type {
  ChatMessage,
  ModelCallResult,
  ModelParams,
  RunCompletionResult,
  RunIdentity,
  RunMode,
} from './run.ts';

export interface ModelCallRequest extends RunIdentity {
  model: string;
  /** Position of this model in [model, ...fallbackModels]; numbers the attempts recorded in usage. */
  modelIndex: number;
  messages: ChatMessage[];
  params: ModelParams;
  mode: RunMode;
  /**
   * Set by the workflow: a success is also recorded as the run's completion, in the transaction that
   * closes the call's usage row (one local activity instead of two on the happy path). Failures and
   * cancellations are still completed by completeRun.
   */
  completeOnSuccess?: SuccessCompletion | undefined;
}

/** What the run's completion needs beyond the call itself. */
export interface SuccessCompletion {
  /** the metrics label of the run's prompt */
  promptName: string;
  /** workflow start, epoch ms: the run's latency is measured from it */
  startedAt: number;
  cacheKey?: string | undefined;
  cacheTtlSeconds?: number | undefined;
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

/** The activities the run workflow schedules; workers implement them (createActivities). */
export interface RunActivities {
  callModel(req: ModelCallRequest): Promise<ModelCallResult>;
  completeRun(req: RunCompletionRequest): Promise<RunCompletionResult>;
}
