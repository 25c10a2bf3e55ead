import { newId } from '@promptmill/infra';
import {
  countManualRetry,
  type DeliveryView,
  findDelivery,
  findWebhookEndpoint,
  insertTestMessage,
  listDeliveries,
} from '@promptmill/infra/db';
import { DELIVER_WEBHOOK_WORKFLOW, type DeliverWebhookInput } from '@promptmill/workflows';
import { WorkflowExecutionAlreadyStartedError } from '@temporalio/client';
import type { z } from 'zod';
import type { AuthContext } from '../auth/auth-context.ts';
import { AppError } from '../http/app-error.ts';
import type { Page } from '../http/pagination.ts';
import { startWorkflow } from '../temporal.ts';
import type { WebhookDeps } from './deps.ts';
import type { deliveryViewSchema } from './webhooks.schemas.ts';

type DeliveryBody = z.infer<typeof deliveryViewSchema>;

export function toDeliveryView(d: DeliveryView): DeliveryBody {
  const iso = (v: Date | string) => new Date(v).toISOString();
  return {
    id: d.id,
    endpointId: d.endpointId,
    eventId: d.eventId,
    event: d.eventType,
    status: d.status,
    attemptCount: d.attemptCount,
    nextAttemptAt: d.nextAttemptAt ? iso(d.nextAttemptAt) : null,
    createdAt: iso(d.createdAt),
    updatedAt: iso(d.updatedAt),
    // json_agg gives the attempts' times as strings already
    attempts: d.attempts.map((a) => ({ ...a, createdAt: iso(a.createdAt) })),
  };
}

const endpointNotFound = () => new AppError('WEBHOOK_NOT_FOUND', 'Webhook endpoint not found');
const messageNotFound = () => new AppError('MESSAGE_NOT_FOUND', 'Webhook message not found');

async function startDelivery(deps: WebhookDeps, workflowId: string, input: DeliverWebhookInput) {
  try {
    await startWorkflow(deps.temporal, DELIVER_WEBHOOK_WORKFLOW, {
      workflowId,
      taskQueue: deps.temporal.taskQueue,
      args: [input],
      workflowIdReusePolicy: 'REJECT_DUPLICATE',
    });
  } catch (err) {
    if (err instanceof WorkflowExecutionAlreadyStartedError) return;
    throw err;
  }
}

export async function listEndpointDeliveries(deps: WebhookDeps, auth: AuthContext, id: string, page: Page) {
  if (!(await findWebhookEndpoint(deps.sql, auth.org.id, id))) throw endpointNotFound();
  const { rows, total } = await listDeliveries(deps.sql, auth.org.id, id, {
    limit: page.perPage,
    offset: page.offset,
  });
  const data = await Promise.all(
    rows.map((row) => withSvixAttempts(deps, auth.org.id, toDeliveryView(row), row)),
  );
  return { data, total };
}

/** Svix mode: a handed-over message's attempts and state are Svix's (read from its API). */
async function withSvixAttempts(
  deps: WebhookDeps,
  orgId: string,
  view: DeliveryBody,
  row: DeliveryView,
): Promise<DeliveryBody> {
  if (!deps.svix || !row.svixMessageId) return view;
  let list: Awaited<ReturnType<NonNullable<WebhookDeps['svix']>['messageAttempt']['listByMsg']>>;
  try {
    list = await deps.svix.messageAttempt.listByMsg(orgId, row.svixMessageId);
  } catch (err) {
    throw new AppError('SERVICE_UNAVAILABLE', 'The delivery log could not be read from Svix; try again', {
      cause: err,
    });
  }
  const oldestFirst = [...list.data].sort((a, b) => a.timestamp.getTime() - b.timestamp.getTime());
  const attempts = oldestFirst
    .map((a, i) => ({
      attempt: i + 1,
      status: a.status === 0 ? ('succeeded' as const) : ('failed' as const),
      responseStatus: a.responseStatusCode,
      responseBody: a.response.slice(0, 1024),
      latencyMs: Math.round(a.responseDurationMs),
      error: a.status === 0 ? null : `Svix: ${a.statusText}`,
      createdAt: a.timestamp.toISOString(),
    }))
    .reverse();
  const inFlight = list.data.some((a) => a.status === 1 || a.status === 3);
  const status = attempts.some((a) => a.status === 'succeeded')
    ? 'succeeded'
    : inFlight || attempts.length === 0
      ? 'pending'
      : 'failed';
  return { ...view, status, attemptCount: attempts.length, attempts };
}

/**
 * Sends `webhook.test` to one endpoint (enabled or not: a test is how one checks a receiver before
 * enabling it). The message is committed first; if its workflow cannot be started now, a worker's
 * sweep starts it.
 */
export async function sendTestEvent(deps: WebhookDeps, auth: AuthContext, id: string): Promise<DeliveryBody> {
  const endpoint = await findWebhookEndpoint(deps.sql, auth.org.id, id);
  if (!endpoint) throw endpointNotFound();
  const messageId = newId('message');
  await insertTestMessage(deps.sql, {
    orgId: auth.org.id,
    endpointId: id,
    eventId: newId('event'),
    messageId,
    payload: { endpoint_id: id, message: 'This is a test event from Promptmill' },
  });
  await startDelivery(deps, messageId, { messageId, once: true }).catch(() => undefined);
  const delivery = await findDelivery(deps.sql, auth.org.id, messageId);
  if (!delivery) throw messageNotFound();
  return withSvixAttempts(deps, auth.org.id, toDeliveryView(delivery), delivery);
}

/** One more attempt of a message now, whatever its state (`<msg id>-retry-<n>` workflow). */
export async function retryDelivery(
  deps: WebhookDeps,
  auth: AuthContext,
  messageId: string,
): Promise<DeliveryBody> {
  const n = await countManualRetry(deps.sql, auth.org.id, messageId);
  if (n === undefined) throw messageNotFound();
  const handedOver = await findDelivery(deps.sql, auth.org.id, messageId);
  if (deps.svix && handedOver?.svixMessageId && handedOver.endpointId) {
    // Svix mode: the message is Svix's; a retry is its resend to the endpoint
    try {
      await deps.svix.messageAttempt.resend(auth.org.id, handedOver.svixMessageId, handedOver.endpointId);
    } catch (err) {
      throw new AppError('SERVICE_UNAVAILABLE', 'Svix could not take the retry; try again', { cause: err });
    }
    return withSvixAttempts(deps, auth.org.id, toDeliveryView(handedOver), handedOver);
  }
  try {
    await startDelivery(deps, `${messageId}-retry-${n}`, { messageId, once: true });
  } catch (err) {
    throw new AppError('SERVICE_UNAVAILABLE', 'The retry could not be started; try again', { cause: err });
  }
  const delivery = await findDelivery(deps.sql, auth.org.id, messageId);
  if (!delivery) throw messageNotFound();
  return withSvixAttempts(deps, auth.org.id, toDeliveryView(delivery), delivery);
}
