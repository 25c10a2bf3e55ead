import { z } from 'zod';
import { defineRoute, type RouteDef } from '../http/define-route.ts';
import { many, one } from '../http/openapi.ts';
import { listBody, paginationQuerySchema, toPage } from '../http/pagination.ts';
import { listEndpointDeliveries, retryDelivery, sendTestEvent } from './deliveries.ts';
import type { WebhookDeps } from './deps.ts';
import {
  createEndpoint,
  defaultSecret,
  deleteEndpoint,
  getEndpoint,
  listEndpoints,
  patchEndpoint,
  rotateEndpointSecret,
} from './endpoints.ts';
import {
  createEndpointSchema,
  deliveryViewSchema,
  endpointIdParams,
  endpointViewSchema,
  endpointWithSecretSchema,
  messageIdParams,
  patchEndpointSchema,
} from './webhooks.schemas.ts';

const TAG = 'Webhooks';
const scope = 'webhooks:write';
const NOT_FOUND = { description: "WEBHOOK_NOT_FOUND (also another organization's endpoint)" };
const URL_400 = {
  description:
    'VALIDATION_ERROR: bad fields, an unknown event, or a url whose host resolves to a loopback, private, link-local, multicast or metadata address',
};

export function webhookRoutes(deps: WebhookDeps): RouteDef[] {
  return [
    defineRoute({
      method: 'post',
      path: '/v1/webhooks',
      summary: 'Create a webhook endpoint (its whsec_ secret is shown once, here)',
      tag: TAG,
      scope,
      body: createEndpointSchema,
      responses: {
        201: { description: 'The endpoint and its secret', schema: one(endpointWithSecretSchema) },
        400: URL_400,
      },
      handler: async ({ res, body, auth }) => {
        const endpoint = await createEndpoint(deps, auth, body);
        res.setHeader('Cache-Control', 'no-store');
        res.status(201).location(`/v1/webhooks/${endpoint.id}`).json({ data: endpoint });
      },
    }),
    defineRoute({
      method: 'get',
      path: '/v1/webhooks',
      summary: 'List webhook endpoints, oldest first',
      tag: TAG,
      scope,
      query: paginationQuerySchema,
      responses: { 200: { description: 'A page of endpoints', schema: many(endpointViewSchema) } },
      handler: async ({ res, query, auth }) => {
        const page = toPage(query);
        const { data, total } = await listEndpoints(deps, auth, page);
        res.json(listBody(data, page, total));
      },
    }),
    defineRoute({
      method: 'get',
      path: '/v1/webhooks/default-secret',
      summary: "The organization's default secret: it signs deliveries to a run's own webhookUrl",
      tag: TAG,
      scope,
      responses: {
        200: { description: 'The secret', schema: one(z.object({ secret: z.string() })) },
      },
      handler: async ({ res, auth }) => {
        res.setHeader('Cache-Control', 'no-store');
        res.json({ data: { secret: await defaultSecret(deps, auth) } });
      },
    }),
    defineRoute({
      method: 'get',
      path: '/v1/webhooks/:id',
      summary: 'A webhook endpoint',
      tag: TAG,
      scope,
      params: endpointIdParams,
      responses: { 200: { description: 'The endpoint', schema: one(endpointViewSchema) }, 404: NOT_FOUND },
      handler: async ({ res, params: { id }, auth }) => {
        res.json({ data: await getEndpoint(deps, auth, id) });
      },
    }),
    defineRoute({
      method: 'patch',
      path: '/v1/webhooks/:id',
      summary: 'Change an endpoint (enabled:true resumes one disabled for failing)',
      tag: TAG,
      scope,
      params: endpointIdParams,
      body: patchEndpointSchema,
      responses: {
        200: { description: 'The endpoint', schema: one(endpointViewSchema) },
        400: URL_400,
        404: NOT_FOUND,
      },
      handler: async ({ res, params: { id }, body, auth }) => {
        res.json({ data: await patchEndpoint(deps, auth, id, body) });
      },
    }),
    defineRoute({
      method: 'delete',
      path: '/v1/webhooks/:id',
      summary: 'Delete an endpoint: its pending deliveries stop',
      tag: TAG,
      scope,
      params: endpointIdParams,
      responses: {
        200: { description: 'The deleted endpoint', schema: one(endpointViewSchema) },
        404: NOT_FOUND,
      },
      handler: async ({ res, params: { id }, auth }) => {
        res.json({ data: await deleteEndpoint(deps, auth, id) });
      },
    }),
    defineRoute({
      method: 'post',
      path: '/v1/webhooks/:id/rotate-secret',
      summary: 'New secret; the old one also signs (a second webhook-signature) for 24 h',
      tag: TAG,
      scope,
      params: endpointIdParams,
      responses: {
        200: { description: 'The endpoint and its new secret', schema: one(endpointWithSecretSchema) },
        404: NOT_FOUND,
      },
      handler: async ({ res, params: { id }, auth }) => {
        res.setHeader('Cache-Control', 'no-store');
        res.json({ data: await rotateEndpointSecret(deps, auth, id) });
      },
    }),
    defineRoute({
      method: 'post',
      path: '/v1/webhooks/:id/test',
      summary: 'Send a webhook.test event to this endpoint now (one attempt)',
      tag: TAG,
      scope,
      params: endpointIdParams,
      responses: {
        202: { description: 'The test delivery', schema: one(deliveryViewSchema) },
        404: NOT_FOUND,
      },
      handler: async ({ res, params: { id }, auth }) => {
        res.status(202).json({ data: await sendTestEvent(deps, auth, id) });
      },
    }),
    defineRoute({
      method: 'get',
      path: '/v1/webhooks/:id/deliveries',
      summary: "The endpoint's delivery log, newest first: attempts, response status, latency, next retry",
      tag: TAG,
      scope,
      params: endpointIdParams,
      query: paginationQuerySchema,
      responses: {
        200: { description: 'A page of deliveries', schema: many(deliveryViewSchema) },
        404: NOT_FOUND,
      },
      handler: async ({ res, params: { id }, query, auth }) => {
        const page = toPage(query);
        const { data, total } = await listEndpointDeliveries(deps, auth, id, page);
        res.json(listBody(data, page, total));
      },
    }),
    defineRoute({
      method: 'post',
      path: '/v1/webhooks/deliveries/:msgId/retry',
      summary: 'Attempt a delivery again now (same webhook-id)',
      tag: TAG,
      scope,
      params: messageIdParams,
      responses: {
        202: { description: 'The delivery; the attempt shows in its log', schema: one(deliveryViewSchema) },
        404: { description: "MESSAGE_NOT_FOUND (also another organization's message)" },
        503: { description: 'SERVICE_UNAVAILABLE: the workflow service could not take the retry' },
      },
      handler: async ({ res, params: { msgId }, auth }) => {
        res.status(202).json({ data: await retryDelivery(deps, auth, msgId) });
      },
    }),
  ];
}
