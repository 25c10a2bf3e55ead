// Provider errors → typed failures: whether retrying can help, and the fixed message tenants see.
// No Temporal here: the worker's activity maps a failure to an ApplicationFailure
// (activities/provider-errors.ts), the api's direct mode hands it to the run policy as it is.
import { type ErrorCode, MAX_RETRY_AFTER_MS } from '@promptmill/workflows';
import OpenAI from 'openai';

export { MAX_RETRY_AFTER_MS };

/** A failed provider call, as the run policy and the run's error see it. */
export interface ProviderFailure {
  /** PROVIDER_ERROR (retryable), PROVIDER_REJECTED, STREAM_BROKEN or RUN_CANCELED (final) */
  code: ErrorCode;
  /** fixed per class of failure: it reaches tenants (never the provider's own text) */
  message: string;
  /** retrying the same call cannot help */
  nonRetryable: boolean;
  /** the provider's requested pause before a retry (Retry-After on 429/503), capped */
  retryAfterMs?: number | undefined;
  /** the failure's own text, for the log and the attempt record (not for tenants) */
  detail?: string | undefined;
}

/**
 * What tenants are told when a model call fails: a fixed message per class of failure, built from
 * what Promptmill knows (the model name the version asked for, the HTTP status). Never the
 * provider's own text: it can hold the deployment's key ("Incorrect API key provided: sk-…"),
 * internal URLs or hosts, stack traces. That text is the failure's detail (providerErrorDetail),
 * kept in the log and the attempt's usage_events.error_detail for operators.
 */
export function providerStatusMessage(model: string, status: number): string {
  const m = `Model '${model}'`;
  if (status === 429) return `${m} is rate limited by its provider (HTTP 429)`;
  if (status === 408 || status >= 500) return `${m} failed: its provider answered HTTP ${status}`;
  if (status === 401 || status === 403) {
    return `${m} was refused: its provider did not accept the deployment's credentials (HTTP ${status})`;
  }
  if (status === 404) return `${m} was not found at its provider (HTTP 404)`;
  if (status === 413) return `${m} rejected the request as too large (HTTP 413)`;
  if (status === 400 || status === 422) {
    return `${m} rejected the request (HTTP ${status}): check the version's model and params`;
  }
  return `${m} rejected the request (HTTP ${status})`;
}

const unreachableMessage = (model: string) =>
  `Model '${model}' is unreachable: the connection to its provider failed`;
const timedOutMessage = (model: string) => `Model '${model}' timed out`;
const callFailedMessage = (model: string) => `Model '${model}' call failed`;

/** The provider's requested pause: `retry-after-ms` (OpenAI), else `Retry-After` (seconds or an HTTP date). */
export function retryAfterMs(headers: Headers | undefined, now = Date.now()): number | undefined {
  const cap = (ms: number) => Math.min(MAX_RETRY_AFTER_MS, Math.max(0, ms));
  const precise = Number(headers?.get('retry-after-ms') ?? Number.NaN);
  if (Number.isFinite(precise)) return cap(precise);
  const value = headers?.get('retry-after');
  if (!value) return undefined;
  const seconds = Number(value);
  if (Number.isFinite(seconds)) return cap(seconds * 1000);
  const date = Date.parse(value);
  return Number.isNaN(date) ? undefined : cap(date - now);
}

const retryable = (message: string, retryAfter?: number): ProviderFailure => ({
  code: 'PROVIDER_ERROR',
  message,
  nonRetryable: false,
  ...(retryAfter !== undefined ? { retryAfterMs: retryAfter } : {}),
});

/**
 * Provider errors → failures. 429, 5xx, timeouts and connection errors are retryable (on 429/503 a
 * Retry-After header sets the next delay, capped at 60 s); any other 4xx is not (PROVIDER_REJECTED).
 */
export function classifyProviderError(err: unknown, model: string): ProviderFailure {
  if (err instanceof OpenAI.APIConnectionTimeoutError) return retryable(timedOutMessage(model));
  if (err instanceof OpenAI.APIConnectionError) return retryable(unreachableMessage(model));
  if (err instanceof OpenAI.APIError && typeof err.status === 'number') {
    const status = err.status;
    const message = providerStatusMessage(model, status);
    if (status === 429 || status === 408 || status >= 500) {
      return retryable(message, status === 429 || status === 503 ? retryAfterMs(err.headers) : undefined);
    }
    return { code: 'PROVIDER_REJECTED', message, nonRetryable: true };
  }
  return retryable(callFailedMessage(model));
}

/** The failure's own text, for the log and the attempt record (not for tenants). */
export function providerErrorDetail(err: unknown): string {
  if (err instanceof OpenAI.APIError) {
    const requestId = err.requestID ? ` (request id ${err.requestID})` : '';
    const status = typeof err.status === 'number' ? `HTTP ${err.status}: ` : '';
    return `${err.name}: ${status}${err.message}${requestId}`;
  }
  if (err instanceof Error) {
    const cause = err.cause instanceof Error ? ` (cause: ${err.cause.name}: ${err.cause.message})` : '';
    return `${err.name}: ${err.message}${cause}`;
  }
  return String(err);
}
