import { checkWebhookUrl } from '@promptmill/infra/webhooks';
import { AppError } from './app-error.ts';

/**
 * The SSRF guard at save time for a URL field the platform will POST to (an endpoint's `url`, a run's
 * or chain run's `webhookUrl`): 400 VALIDATION_ERROR naming the field unless every address its host
 * resolves to is public (or WEBHOOK_ALLOW_PRIVATE). The worker checks again when it sends.
 */
export async function assertDeliverableUrl(
  url: string,
  field: string,
  opts: { allowPrivate: boolean; resolve?: ((host: string) => Promise<string[]>) | undefined },
): Promise<void> {
  const verdict = await checkWebhookUrl(url, opts);
  if (verdict.ok) return;
  throw new AppError('VALIDATION_ERROR', 'Invalid request parameters', {
    details: [{ field, message: `${field} ${verdict.reason}` }],
  });
}
