import { ERROR_TABLE, type ErrorCode } from '@promptmill/workflows';

export interface ErrorDetail {
  field: string;
  message: string;
  /** for a limit the request exceeded (the render budget): which limit, its value, and where */
  reason?: string;
  limit?: number;
  tag?: string;
}

/** The one error type routes and domain functions throw; the error handler renders it. */
export class AppError extends Error {
  override name = 'AppError';
  readonly code: ErrorCode;
  readonly status: number;
  readonly details: ErrorDetail[] | undefined;
  readonly headers: Record<string, string>;
  /** Extra top-level body fields (e.g. retryAfter, rateLimits, runId). */
  readonly extra: Record<string, unknown>;

  constructor(
    code: ErrorCode,
    message: string,
    opts: {
      details?: ErrorDetail[];
      headers?: Record<string, string>;
      extra?: Record<string, unknown>;
      /** what went wrong underneath: logged by the error handler (5xx), never sent */
      cause?: unknown;
    } = {},
  ) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.code = code;
    this.status = ERROR_TABLE[code].status;
    this.details = opts.details;
    this.headers = opts.headers ?? {};
    this.extra = opts.extra ?? {};
  }
}

export const notFound = (code: ErrorCode, message: string) => new AppError(code, message);
