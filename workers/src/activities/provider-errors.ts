// Provider failures → Temporal failures. Which errors are retried and the fixed messages tenants see
// are decided in provider-call/provider-failure.ts (shared with the api's direct mode, no Temporal).
import { ApplicationFailure } from '@temporalio/activity';
import { classifyProviderError, type ProviderFailure } from '../provider-call/provider-failure.ts';

export {
  MAX_RETRY_AFTER_MS,
  providerErrorDetail,
  providerStatusMessage,
  retryAfterMs,
} from '../provider-call/provider-failure.ts';

/**
 * A typed failure as the workflow sees it: ApplicationFailure typed with the error code, the fixed
 * message, non-retryable when retrying cannot help, a provider's Retry-After as the next retry delay.
 */
export function toApplicationFailure(failure: ProviderFailure): ApplicationFailure {
  return ApplicationFailure.create({
    type: failure.code,
    message: failure.message,
    ...(failure.nonRetryable ? { nonRetryable: true } : {}),
    ...(failure.retryAfterMs !== undefined ? { nextRetryDelay: failure.retryAfterMs } : {}),
  });
}

/** Provider errors → Temporal failures (classifyProviderError, then toApplicationFailure). */
export function toProviderFailure(err: unknown, model: string): ApplicationFailure {
  return toApplicationFailure(classifyProviderError(err, model));
}
