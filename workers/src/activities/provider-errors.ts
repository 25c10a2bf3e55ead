// Provider errors → Temporal failures: whether retrying can help, and the fixed message tenants see.
import { ApplicationFailure } from '@temporalio/activity';
import OpenAI from 'openai';

/**
 * What tenants are told when a model call fails: a fixed message per class of failure, built from
 * what Promptmill knows (the model name the version asked for, the HTTP status). Never the
 * provider's own text: it can hold the deployment's key ("Incorrect API key provided: sk-…"),
 * internal URLs or hosts, stack traces. That text is the failure's detail (providerErrorDetail),
 * kept in the worker log and the attempt's usage_events.error_detail for operators.
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

/** A provider asking for a longer pause gets this much: the retry policy's own maximum interval. */
export const MAX_RETRY_AFTER_MS = 60_000;

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

/**
 * Provider errors → Temporal failures. 429, 5xx, timeouts and connection errors are retryable
 * (on 429/503 a Retry-After header sets the next delay, capped at 60 s); any other 4xx is not
 * (PROVIDER_REJECTED). The message is fixed per class (provider-errors.ts): it reaches tenants,
 * so the provider's own text never goes in it (providerErrorDetail keeps that for operators).
 */
export function toProviderFailure(err: unknown, model: string): ApplicationFailure {
  if (err instanceof OpenAI.APIConnectionTimeoutError) {
    return ApplicationFailure.create({ type: 'PROVIDER_ERROR', message: timedOutMessage(model) });
  }
  if (err instanceof OpenAI.APIConnectionError) {
    return ApplicationFailure.create({ type: 'PROVIDER_ERROR', message: unreachableMessage(model) });
  }
  if (err instanceof OpenAI.APIError && typeof err.status === 'number') {
    const status = err.status;
    const message = providerStatusMessage(model, status);
    if (status === 429 || status === 408 || status >= 500) {
      const delay = status === 429 || status === 503 ? retryAfterMs(err.headers) : undefined;
      return ApplicationFailure.create({
        type: 'PROVIDER_ERROR',
        message,
        ...(delay !== undefined ? { nextRetryDelay: delay } : {}),
      });
    }
    return ApplicationFailure.create({ type: 'PROVIDER_REJECTED', message, nonRetryable: true });
  }
  return ApplicationFailure.create({ type: 'PROVIDER_ERROR', message: callFailedMessage(model) });
}

/** The failure's own text, for the worker log and the attempt record (not for tenants). */
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
