import { proxyLocalActivities, sleep } from '@temporalio/workflow';
import type { DeliverWebhookInput, WebhookActivities, WebhookAttemptResult } from '../contracts/webhooks.ts';

// One webhook message (one event to one target): attempts until a 2xx or the schedule ends, with the
// waits as durable timers. Each attempt's HTTP outcome is a result, not an activity failure: only
// an attempt that could not run or be recorded (Postgres down, worker died) is retried by Temporal.
// A local activity: the attempt runs on the worker that holds the workflow task, with no activity
// task round trip through the server (the delivery latency and the server's work per message).
const { attemptWebhookDelivery } = proxyLocalActivities<WebhookActivities>({
  // the HTTP attempt times out after WEBHOOK_TIMEOUT_MS (15 s); the rest is reading and writing rows
  startToCloseTimeout: '2 minutes',
  localRetryThreshold: '10 seconds',
  retry: { initialInterval: '1 second', backoffCoefficient: 2, maximumInterval: '1 minute' },
});

export async function deliverWebhookWorkflow(input: DeliverWebhookInput): Promise<WebhookAttemptResult> {
  for (let index = 0; ; index++) {
    const result = await attemptWebhookDelivery({
      messageId: input.messageId,
      index,
      once: input.once ?? false,
      retryDelaysMs: input.retryDelaysMs,
    });
    if (result.outcome !== 'retry' || result.retryInMs === null) return result;
    await sleep(result.retryInMs);
  }
}
