import { newId } from '@promptmill/infra';
import {
  deleteWebhookEndpoint,
  findWebhookEndpoint,
  insertWebhookEndpoint,
  listWebhookEndpoints,
  orgWebhookSecret,
  rotateWebhookSecret,
  updateWebhookEndpoint,
  type WebhookEndpointRow,
} from '@promptmill/infra/db';
import { newWebhookSecret } from '@promptmill/infra/webhooks';
import type { z } from 'zod';
import type { AuthContext } from '../auth/auth-context.ts';
import { AppError } from '../http/app-error.ts';
import type { Page } from '../http/pagination.ts';
import { assertDeliverableUrl } from '../http/webhook-url.ts';
import type { WebhookDeps } from './deps.ts';
import type { createEndpointSchema, endpointViewSchema, patchEndpointSchema } from './webhooks.schemas.ts';

/** The old secret keeps signing (a second signature) this long after a rotation. */
export const SECRET_GRACE_SECONDS = 86_400;

type EndpointView = z.infer<typeof endpointViewSchema>;

export function toEndpointView(e: WebhookEndpointRow): EndpointView {
  return {
    id: e.id,
    url: e.url,
    description: e.description,
    events: e.events,
    enabled: e.enabled,
    disabledReason: e.disabledReason === 'failing' ? 'failing' : null,
    previousSecretExpiresAt: e.previousSecretExpiresAt?.toISOString() ?? null,
    createdAt: e.createdAt.toISOString(),
    updatedAt: e.updatedAt.toISOString(),
  };
}

const notFound = () => new AppError('WEBHOOK_NOT_FOUND', 'Webhook endpoint not found');

export async function createEndpoint(
  deps: WebhookDeps,
  auth: AuthContext,
  body: z.infer<typeof createEndpointSchema>,
): Promise<EndpointView & { secret: string }> {
  await assertDeliverableUrl(body.url, 'url', deps);
  const secret = newWebhookSecret();
  const row = await insertWebhookEndpoint(deps.sql, {
    id: newId('webhook'),
    orgId: auth.org.id,
    url: body.url,
    description: body.description,
    events: body.events,
    enabled: body.enabled,
    secret,
  });
  return { ...toEndpointView(row), secret };
}

export async function listEndpoints(deps: WebhookDeps, auth: AuthContext, page: Page) {
  const { rows, total } = await listWebhookEndpoints(deps.sql, auth.org.id, {
    limit: page.perPage,
    offset: page.offset,
  });
  return { data: rows.map(toEndpointView), total };
}

export async function getEndpoint(deps: WebhookDeps, auth: AuthContext, id: string): Promise<EndpointView> {
  const row = await findWebhookEndpoint(deps.sql, auth.org.id, id);
  if (!row) throw notFound();
  return toEndpointView(row);
}

export async function patchEndpoint(
  deps: WebhookDeps,
  auth: AuthContext,
  id: string,
  body: z.infer<typeof patchEndpointSchema>,
): Promise<EndpointView> {
  // another organization's endpoint is unknown here, whatever the body says
  if (!(await findWebhookEndpoint(deps.sql, auth.org.id, id))) throw notFound();
  if (body.url !== undefined) await assertDeliverableUrl(body.url, 'url', deps);
  const row = await updateWebhookEndpoint(deps.sql, auth.org.id, id, body);
  if (!row) throw notFound();
  return toEndpointView(row);
}

export async function deleteEndpoint(
  deps: WebhookDeps,
  auth: AuthContext,
  id: string,
): Promise<EndpointView> {
  const row = await deleteWebhookEndpoint(deps.sql, auth.org.id, id);
  if (!row) throw notFound();
  return toEndpointView(row);
}

export async function rotateEndpointSecret(
  deps: WebhookDeps,
  auth: AuthContext,
  id: string,
): Promise<EndpointView & { secret: string }> {
  const secret = newWebhookSecret();
  const row = await rotateWebhookSecret(deps.sql, auth.org.id, id, secret, SECRET_GRACE_SECONDS);
  if (!row) throw notFound();
  return { ...toEndpointView(row), secret };
}

/** The organization's default secret: it signs deliveries to runs' own `webhookUrl`. */
export async function defaultSecret(deps: WebhookDeps, auth: AuthContext): Promise<string> {
  return orgWebhookSecret(deps.sql, auth.org.id, newWebhookSecret());
}
