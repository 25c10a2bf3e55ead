import { z } from 'zod';
import { defineRoute, type RouteDef } from '../http/define-route.ts';
import { one } from '../http/openapi.ts';
import type { UsageDeps } from './deps.ts';
import { describeBilling, keyAnalytics } from './key-analytics.ts';
import {
  billingSchema,
  keyAnalyticsSchema,
  rangeQuerySchema,
  usageQuerySchema,
  usageReportSchema,
} from './usage.schemas.ts';
import { resolveRange } from './usage-range.ts';
import { buildUsageReport } from './usage-report.ts';

const TAG = 'Analytics';
const keyParams = z.object({ id: z.string().min(1).max(100) });
const RANGE_ERRORS = {
  400: {
    description:
      'VALIDATION_ERROR: a bad date or enum, `from` not before `to`, or a range over 90 days at hour granularity (366 at day)',
  },
};

/** Tenant analytics: usage over time, one key's analytics, and billing (scope analytics:read). */
export function usageRoutes({ sql, clock }: UsageDeps): RouteDef[] {
  return [
    defineRoute({
      method: 'get',
      path: '/v1/usage',
      summary:
        'Runs, errors, tokens, cost and latency per hour or UTC day, optionally per key, prompt or model',
      tag: TAG,
      scope: 'analytics:read',
      query: usageQuerySchema,
      responses: {
        200: { description: 'Zero-filled buckets', schema: one(usageReportSchema) },
        ...RANGE_ERRORS,
      },
      handler: async ({ res, query, auth }) => {
        const range = resolveRange(query, clock());
        res.json({ data: await buildUsageReport(sql, auth, { range, groupBy: query.groupBy }) });
      },
    }),
    defineRoute({
      method: 'get',
      path: '/v1/keys/:id/analytics',
      summary: "One key's runs over time, success and error rates, latency, tokens and cost",
      tag: TAG,
      scope: 'analytics:read',
      params: keyParams,
      query: rangeQuerySchema,
      responses: {
        200: { description: 'Zero-filled buckets', schema: one(keyAnalyticsSchema) },
        ...RANGE_ERRORS,
        404: { description: "KEY_NOT_FOUND (also for another organization's key)" },
      },
      handler: async ({ res, params, query, auth }) => {
        const range = resolveRange(query, clock());
        res.json({ data: await keyAnalytics(sql, auth, params.id, range) });
      },
    }),
    defineRoute({
      method: 'get',
      path: '/v1/billing',
      summary: 'Plan, limits, the current period, tokens used and left of the budget, cost this period',
      tag: TAG,
      scope: 'analytics:read',
      responses: { 200: { description: 'This UTC month', schema: one(billingSchema) } },
      handler: async ({ res, auth }) => {
        res.json({ data: await describeBilling(sql, auth, clock()) });
      },
    }),
  ];
}
