import { newId } from '@promptmill/infra';
import {
  cancelMessage,
  findDeliveryTarget,
  recordDeliveryAttempt,
  recordSvixHandoff,
  type Sql,
  WEBHOOK_API_VERSION,
} from '@promptmill/infra/db';
import {
  DEFAULT_WEBHOOK_RETRY_DELAYS_MS,
  retryDelayAfter,
  type WebhookActivities,
  type WebhookAttemptRequest,
  type WebhookAttemptResult,
} from '@promptmill/workflows';
import type { WorkerMetrics } from '../metrics.ts';
import { type Sender, signWebhook } from './send.ts';
import type { SvixHandoff } from './svix-handoff.ts';

export interface WebhookActivityDeps {
  sql: Sql;
  sender: Sender;
  metrics: Pick<WorkerMetrics, 'webhookDeliveries' | 'webhookLatency'>;
  /** waits before each retry (WEBHOOK_RETRY_DELAYS); the workflow input may override them */
  retryDelaysMs?: readonly number[] | undefined;
  /** an endpoint failing this long without a success is disabled (WEBHOOK_DISABLE_AFTER_SECONDS) */
  disableAfterSeconds: number;
  /** Svix mode (SVIX_TOKEN): endpoint messages are handed to Svix; runs' own webhookUrl stays built-in */
  svix?: SvixHandoff | undefined;
}

const FINAL: WebhookAttemptResult = { outcome: 'final', retryInMs: null, responseStatus: null };

/** The body every target receives: the seed's payload shape with API.md's api_version. */
export function webhookBody(e: {
  id: string;
  type: string;
  createdAt: Date;
  data: Record<string, unknown>;
}): string {
  return JSON.stringify({
    id: e.id,
    event: e.type,
    created_at: e.createdAt.toISOString(),
    api_version: WEBHOOK_API_VERSION,
    data: e.data,
  });
}

export function createWebhookActivities(deps: WebhookActivityDeps): WebhookActivities {
  return {
    async attemptWebhookDelivery(req: WebhookAttemptRequest): Promise<WebhookAttemptResult> {
      const target = await findDeliveryTarget(deps.sql, req.messageId);
      if (!target) return FINAL;
      // a manual retry sends whatever the message's state; a scheduled one stops once it is settled
      if (!req.once && target.status !== 'pending') return FINAL;
      if (!target.isActive || !target.url || target.secrets.length === 0 || !target.secrets[0]) {
        await cancelMessage(deps.sql, req.messageId);
        return FINAL;
      }
      const body = webhookBody({
        id: target.eventId,
        type: target.eventType,
        createdAt: target.eventCreatedAt,
        data: target.eventPayload,
      });
      if (deps.svix && target.endpointId) {
        const svixMessageId = await deps.svix.handOver(target, JSON.parse(body) as Record<string, unknown>);
        // its attempts are Svix's (its own dashboards): the delivery metrics count built-in attempts only
        await recordSvixHandoff(deps.sql, target.messageId, svixMessageId);
        return { outcome: 'delivered', retryInMs: null, responseStatus: null };
      }
      const signed = signWebhook(target.messageId, body, target.secrets, new Date());
      const attempt = await deps.sender.send(target.url, signed);
      const isSuccess = attempt.outcome === 'success';
      const delays = req.retryDelaysMs ?? deps.retryDelaysMs ?? DEFAULT_WEBHOOK_RETRY_DELAYS_MS;
      const retryInMs = isSuccess ? null : retryDelayAfter(delays, req.index, req.once);
      await recordDeliveryAttempt(
        deps.sql,
        {
          messageId: target.messageId,
          endpointId: target.endpointId,
          status: isSuccess ? 'succeeded' : 'failed',
          responseStatus: attempt.responseStatus,
          responseBody: attempt.responseBody,
          latencyMs: attempt.latencyMs,
          error: attempt.error,
          messageStatus: isSuccess ? 'succeeded' : retryInMs === null ? 'failed' : 'pending',
          nextAttemptInMs: retryInMs,
          disableAfterSeconds: deps.disableAfterSeconds,
        },
        newId('event'),
      );
      deps.metrics.webhookDeliveries.inc({ event: target.eventType, outcome: attempt.outcome });
      if (isSuccess)
        deps.metrics.webhookLatency.observe((Date.now() - target.eventCreatedAt.getTime()) / 1000);
      return {
        outcome: isSuccess ? 'delivered' : retryInMs === null ? 'final' : 'retry',
        retryInMs,
        responseStatus: attempt.responseStatus,
      };
    },
  };
}
