/**
 * The one error table: code → HTTP status and whether retrying can help.
 * Shared by the api's error mapper and by the workers' ApplicationFailure types.
 */
export const ERROR_TABLE = {
  VALIDATION_ERROR: { status: 400, retryable: false },
  INVALID_JSON: { status: 400, retryable: false },
  INVALID_TEMPLATE: { status: 400, retryable: false },
  MISSING_VARIABLES: { status: 400, retryable: false },
  UNKNOWN_VARIABLES: { status: 400, retryable: false },
  /** a chain definition that cannot run: unknown steps or prompts, cycles, references to non-dependencies */
  INVALID_CHAIN: { status: 400, retryable: false },
  /** a chain step's output that a later step reads as JSON is not JSON (or lacks the path read) */
  INVALID_STEP_OUTPUT: { status: 400, retryable: false },
  /** a render of the prompt would exceed the render budget's iterations, steps or value depth */
  TEMPLATE_BUDGET_EXCEEDED: { status: 400, retryable: false },
  UNAUTHORIZED: { status: 401, retryable: false },
  PAST_DUE: { status: 402, retryable: false },
  DISPUTED: { status: 402, retryable: false },
  INSUFFICIENT_TOKENS: { status: 402, retryable: false },
  FORBIDDEN: { status: 403, retryable: false },
  API_NOT_ALLOWED: { status: 403, retryable: false },
  SUBSCRIPTION_INACTIVE: { status: 403, retryable: false },
  ORIGIN_NOT_ALLOWED: { status: 403, retryable: false },
  MODEL_NOT_ALLOWED: { status: 403, retryable: false },
  NOT_FOUND: { status: 404, retryable: false },
  PROMPT_NOT_FOUND: { status: 404, retryable: false },
  VERSION_NOT_FOUND: { status: 404, retryable: false },
  LABEL_NOT_FOUND: { status: 404, retryable: false },
  RUN_NOT_FOUND: { status: 404, retryable: false },
  KEY_NOT_FOUND: { status: 404, retryable: false },
  ORG_NOT_FOUND: { status: 404, retryable: false },
  MEMBER_NOT_FOUND: { status: 404, retryable: false },
  TEMPLATE_NOT_FOUND: { status: 404, retryable: false },
  WEBHOOK_NOT_FOUND: { status: 404, retryable: false },
  /** a webhook message (msg_) the delivery log does not have, or another organization's */
  MESSAGE_NOT_FOUND: { status: 404, retryable: false },
  WORKFLOW_NOT_FOUND: { status: 404, retryable: false },
  WORKFLOW_RUN_NOT_FOUND: { status: 404, retryable: false },
  ALERT_NOT_FOUND: { status: 404, retryable: false },
  METHOD_NOT_ALLOWED: { status: 405, retryable: false },
  CONFLICT: { status: 409, retryable: false },
  INVALID_STATE: { status: 409, retryable: false },
  IDEMPOTENCY_CONFLICT: { status: 409, retryable: false },
  PAYLOAD_TOO_LARGE: { status: 413, retryable: false },
  /** the rendered prompt is too large: the render budget's output size, or the run's workflow payload limit */
  PROMPT_TOO_LARGE: { status: 413, retryable: false },
  UNSUPPORTED_MEDIA_TYPE: { status: 415, retryable: false },
  RATE_LIMITED: { status: 429, retryable: true },
  INTERNAL_ERROR: { status: 500, retryable: true },
  PROVIDER_ERROR: { status: 502, retryable: true },
  PROVIDER_REJECTED: { status: 502, retryable: false },
  STREAM_BROKEN: { status: 502, retryable: false },
  SERVICE_UNAVAILABLE: { status: 503, retryable: true },
  RUN_TIMEOUT: { status: 504, retryable: true },
  RUN_CANCELED: { status: 409, retryable: false },
} as const satisfies Record<string, { status: number; retryable: boolean }>;

export type ErrorCode = keyof typeof ERROR_TABLE;

export function isErrorCode(value: unknown): value is ErrorCode {
  return typeof value === 'string' && Object.hasOwn(ERROR_TABLE, value);
}

export function statusForCode(code: ErrorCode): number {
  return ERROR_TABLE[code].status;
}

/** Whether retrying (or another model) can fix a failure of this code: the table decides, nothing else. */
export function isRetryableCode(code: ErrorCode): boolean {
  return ERROR_TABLE[code].retryable;
}

/** Every code that retrying cannot fix: the `nonRetryableErrorTypes` of activity retry policies. */
export const NON_RETRYABLE_CODES: readonly ErrorCode[] = (Object.keys(ERROR_TABLE) as ErrorCode[]).filter(
  (code) => !ERROR_TABLE[code].retryable,
);

/**
 * The code a client sees for a run's failure: a provider's rejection and a broken stream are
 * PROVIDER_ERROR to clients (the message tells which); the finer code stays in the run's attempts.
 */
export function publicErrorCode(code: ErrorCode): ErrorCode {
  return code === 'PROVIDER_REJECTED' || code === 'STREAM_BROKEN' ? 'PROVIDER_ERROR' : code;
}
