/** Everything the SDK throws is a PromptmillError. */
export class PromptmillError extends Error {
  override name = 'PromptmillError';
}

export interface ErrorDetail {
  field: string;
  message: string;
  [extra: string]: unknown;
}

/** The api answered with an error status: `code`, `status` and `requestId` come from the answer. */
export class APIError extends PromptmillError {
  override name = 'APIError';
  readonly status: number;
  /** The API's stable UPPER_SNAKE code (`PROMPT_NOT_FOUND`, `RATE_LIMITED`, …). */
  readonly code: string;
  /** `X-Request-Id` of the answer: quote it when reporting a problem. */
  readonly requestId: string | undefined;
  readonly details: ErrorDetail[];
  readonly headers: Headers;
  /** The parsed error body. */
  readonly body: unknown;
  /** Seconds to wait before trying again (`Retry-After`), when the api said so. */
  readonly retryAfter: number | undefined;
  /** The run this error is about (e.g. 504 RUN_TIMEOUT: the run goes on). */
  readonly runId: string | undefined;

  constructor(init: {
    status: number;
    code: string;
    message: string;
    requestId?: string | undefined;
    details?: ErrorDetail[];
    headers?: Headers;
    body?: unknown;
    retryAfter?: number | undefined;
    runId?: string | undefined;
  }) {
    super(`${init.code}: ${init.message}`);
    this.status = init.status;
    this.code = init.code;
    this.requestId = init.requestId;
    this.details = init.details ?? [];
    this.headers = init.headers ?? new Headers();
    this.body = init.body;
    this.retryAfter = init.retryAfter;
    this.runId = init.runId;
  }
}

/** 400 */
export class BadRequestError extends APIError {
  override name = 'BadRequestError';
}
/** 401: the key is missing, malformed, unknown, revoked or expired, or its owner is suspended. */
export class AuthenticationError extends APIError {
  override name = 'AuthenticationError';
}
/** 402: billing (PAST_DUE, DISPUTED) or the monthly token budget (INSUFFICIENT_TOKENS). */
export class PaymentRequiredError extends APIError {
  override name = 'PaymentRequiredError';
}
/** 403 */
export class PermissionDeniedError extends APIError {
  override name = 'PermissionDeniedError';
}
/** 404 */
export class NotFoundError extends APIError {
  override name = 'NotFoundError';
}
/** 409: CONFLICT, INVALID_STATE, IDEMPOTENCY_CONFLICT. */
export class ConflictError extends APIError {
  override name = 'ConflictError';
}
/** 429: over a key's or organization's limit; `retryAfter` says for how long. */
export class RateLimitError extends APIError {
  override name = 'RateLimitError';
}
/** 5xx */
export class InternalServerError extends APIError {
  override name = 'InternalServerError';
}

/** The request never got an answer (connection refused or reset, DNS, …). */
export class APIConnectionError extends PromptmillError {
  override name = 'APIConnectionError';
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}

/** No answer within the request's timeout. */
export class APITimeoutError extends APIConnectionError {
  override name = 'APITimeoutError';
}

/** The caller's AbortSignal fired. */
export class APIUserAbortError extends PromptmillError {
  override name = 'APIUserAbortError';
}

/**
 * A streaming run ended with an `error` event (the provider failed, the stream broke, the run was
 * canceled) or the connection ended before its `done` event. The deltas already received stay valid.
 */
export class RunStreamError extends PromptmillError {
  override name = 'RunStreamError';
  readonly code: string;
  readonly runId: string | undefined;
  constructor(code: string, message: string, runId: string | undefined) {
    super(`${code}: ${message}`);
    this.code = code;
    this.runId = runId;
  }
}

/** `verifyWebhook` refused a delivery: a bad or missing signature, or a timestamp too old. */
export class WebhookVerificationError extends PromptmillError {
  override name = 'WebhookVerificationError';
}

const BY_STATUS: Record<number, typeof APIError> = {
  400: BadRequestError,
  401: AuthenticationError,
  402: PaymentRequiredError,
  403: PermissionDeniedError,
  404: NotFoundError,
  409: ConflictError,
  429: RateLimitError,
};

function asRecord(v: unknown): Record<string, unknown> | undefined {
  return typeof v === 'object' && v !== null && !Array.isArray(v)
    ? (v as Record<string, unknown>)
    : undefined;
}

/**
 * The typed error of an error answer. Reads the three error shapes the api uses: the API's
 * `{error:{code,message,details}}`, the sync run routes' `{success:false,error,code}` and OAuth2's
 * `{error, error_description}`.
 */
export function errorFromResponse(
  status: number,
  headers: Headers,
  body: unknown,
  retryAfter: number | undefined,
): APIError {
  const top = asRecord(body);
  const nested = asRecord(top?.error);
  let code = `HTTP_${status}`;
  let message = `The api answered HTTP ${status}`;
  let details: ErrorDetail[] = [];
  if (nested) {
    if (typeof nested.code === 'string') code = nested.code;
    if (typeof nested.message === 'string') message = nested.message;
    if (Array.isArray(nested.details)) details = nested.details as ErrorDetail[];
  } else if (top && typeof top.error === 'string') {
    if (typeof top.code === 'string') {
      code = top.code;
      message = top.error;
    } else {
      code = top.error.toUpperCase();
      message = typeof top.error_description === 'string' ? top.error_description : top.error;
    }
  } else if (typeof body === 'string' && body.trim()) {
    message = body.trim().slice(0, 500);
  }
  const runId =
    typeof top?.runId === 'string' ? top.runId : typeof nested?.runId === 'string' ? nested.runId : undefined;
  const Ctor = BY_STATUS[status] ?? (status >= 500 ? InternalServerError : APIError);
  return new Ctor({
    status,
    code,
    message,
    requestId: headers.get('x-request-id') ?? undefined,
    details,
    headers,
    body,
    retryAfter,
    runId,
  });
}
