import { z } from 'zod';
import { defineRoute, type RouteDef } from '../http/define-route.ts';
import { many, one } from '../http/openapi.ts';
import { listBody, paginationQuerySchema, toPage } from '../http/pagination.ts';
import type { UsageDeps } from '../usage/deps.ts';
import { alertSchema, createAlertSchema, patchAlertSchema } from './alerts.schemas.ts';
import { createAlert, getAlert, listAlerts, removeAlert, updateAlert } from './alerts.ts';

const TAG = 'Alerts';
const params = z.object({ id: z.string().min(1).max(100) });
const alertBody = one(alertSchema);
const NOT_FOUND = { 404: { description: "ALERT_NOT_FOUND (also for another organization's alert)" } };
// API.md has no write scope for alerts: changing them takes an admin key, reading them analytics:read
const WRITE_SCOPE = 'admin';

/** Alert rules, evaluated every minute by the worker; a firing rule emits one usage.alert per window. */
export function alertRoutes({ sql }: Pick<UsageDeps, 'sql'>): RouteDef[] {
  return [
    defineRoute({
      method: 'post',
      path: '/v1/alerts',
      summary: 'Create an alert rule: usage_threshold, error_rate or cost_threshold (admin scope)',
      tag: TAG,
      scope: WRITE_SCOPE,
      body: createAlertSchema,
      responses: {
        201: { description: 'The rule (`state: ok` until its first evaluation)', schema: alertBody },
        400: {
          description:
            'VALIDATION_ERROR (an unknown type, a bad threshold, a keyId of no key of this organization)',
        },
      },
      handler: async ({ res, body, auth }) => {
        const alert = await createAlert(sql, auth, body);
        res.status(201).location(`/v1/alerts/${alert.id}`).json({ data: alert });
      },
    }),
    defineRoute({
      method: 'get',
      path: '/v1/alerts',
      summary: 'List alert rules with their state',
      tag: TAG,
      scope: 'analytics:read',
      query: paginationQuerySchema,
      responses: { 200: { description: 'A page of rules, oldest first', schema: many(alertSchema) } },
      handler: async ({ res, query, auth }) => {
        const page = toPage(query);
        const { alerts, total } = await listAlerts(sql, auth, page);
        res.json(listBody(alerts, page, total));
      },
    }),
    defineRoute({
      method: 'get',
      path: '/v1/alerts/:id',
      summary: 'An alert rule and its state',
      tag: TAG,
      scope: 'analytics:read',
      params,
      responses: { 200: { description: 'The rule', schema: alertBody }, ...NOT_FOUND },
      handler: async ({ res, params: { id }, auth }) => {
        res.json({ data: await getAlert(sql, auth, id) });
      },
    }),
    defineRoute({
      method: 'patch',
      path: '/v1/alerts/:id',
      summary: 'Enable, disable or rename an alert rule (admin scope)',
      tag: TAG,
      scope: WRITE_SCOPE,
      params,
      body: patchAlertSchema,
      responses: { 200: { description: 'The rule', schema: alertBody }, ...NOT_FOUND },
      handler: async ({ res, params: { id }, body, auth }) => {
        res.json({ data: await updateAlert(sql, auth, id, body) });
      },
    }),
    defineRoute({
      method: 'delete',
      path: '/v1/alerts/:id',
      summary: 'Delete an alert rule (admin scope)',
      tag: TAG,
      scope: WRITE_SCOPE,
      params,
      responses: { 204: { description: 'Deleted: it is never evaluated again' }, ...NOT_FOUND },
      handler: async ({ res, params: { id }, auth }) => {
        await removeAlert(sql, auth, id);
        res.status(204).end();
      },
    }),
  ];
}
