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

export const unreachableMessage = (model: string) =>
  `Model '${model}' is unreachable: the connection to its provider failed`;
export const timedOutMessage = (model: string) => `Model '${model}' timed out`;
export const callFailedMessage = (model: string) => `Model '${model}' call failed`;

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
