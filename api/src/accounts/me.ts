import { orgMetricTag } from '@promptmill/infra';
import { findKeyById, monthTokensUsed, peekCounters, type Sql } from '@promptmill/infra/db';
import { z } from 'zod';
import type { AuthContext } from '../auth/auth-context.ts';
import { AppError } from '../http/app-error.ts';
import {
  counterWindow,
  effectiveOrgLimits,
  rateLimitsBody,
  windowState,
  windowsFor,
} from '../limits/windows.ts';
import { keyViewSchema, toKeyView } from './keys.ts';

const windowUsageSchema = z.object({
  scope: z.enum(['key', 'org']),
  period: z.enum(['minute', 'hour', 'day']),
  limit: z.number().int(),
  used: z.number().int(),
  remaining: z.number().int(),
  resetAt: z.string(),
});

export const meSchema = z.object({
  auth: z.enum(['api_key', 'oauth']),
  key: keyViewSchema,
  organization: z.object({
    id: z.string(),
    name: z.string(),
    plan: z.enum(['free', 'pro', 'team', 'enterprise']),
    billingStatus: z.enum(['active', 'past_due', 'disputed', 'canceled']),
    metricsTag: z.string().openapi({
      description:
        "This organization's prefix in Prometheus prompt labels (`<metricsTag>/<prompt name>`): the first 8 hex characters of sha256(organization id)",
      example: 'a1b2c3d4',
    }),
  }),
  limits: z.object({
    plan: z.object({ requestsPerMinute: z.number().int(), requestsPerDay: z.number().int() }),
    key: z.object({
      perMinute: z.number().int().optional(),
      perHour: z.number().int().optional(),
      perDay: z.number().int().optional(),
    }),
    effective: z.object({
      requestsPerMinute: z.number().int().nullable(),
      requestsPerHour: z.number().int().nullable(),
      requestsPerDay: z.number().int().nullable(),
    }),
    tokenBudget: z.number().int().nullable(),
  }),
  usage: z.object({
    period: z.object({ start: z.string(), end: z.string() }),
    tokensUsed: z.number().int(),
    tokensRemaining: z.number().int().nullable(),
    windows: z.array(windowUsageSchema),
  }),
});
export type Me = z.infer<typeof meSchema>;

/** The calling key, its organization and plan, its limits and its usage this period. */
export async function describeCaller(sql: Sql, auth: AuthContext, now: Date): Promise<Me> {
  const row = await findKeyById(sql, auth.org.id, auth.key.id);
  if (!row) throw new AppError('KEY_NOT_FOUND', `API key '${auth.key.id}' not found`);
  const { key, org } = auth;
  const windows = windowsFor({
    keyId: key.id,
    keyLimits: key.rateLimits,
    orgId: org.id,
    plan: org.plan,
    overrides: org.limits,
  });
  const [counts, tokensUsed] = await Promise.all([
    peekCounters(
      sql,
      now,
      windows.map((w) => counterWindow(w, now)),
    ),
    monthTokensUsed(sql, auth.org.id),
  ]);
  const plan = effectiveOrgLimits(org.plan, org.limits);
  const start = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), 1));
  const end = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth() + 1, 1));
  return {
    auth: auth.key.via,
    key: toKeyView(row, now),
    organization: {
      id: org.id,
      name: org.name,
      plan: org.plan,
      billingStatus: org.billing,
      metricsTag: orgMetricTag(org.id),
    },
    limits: {
      plan: { requestsPerMinute: plan.perMinute, requestsPerDay: plan.perDay },
      key: key.rateLimits,
      effective: rateLimitsBody(windows),
      tokenBudget: org.tokenBudget,
    },
    usage: {
      period: { start: start.toISOString(), end: end.toISOString() },
      tokensUsed,
      tokensRemaining: org.tokenBudget === null ? null : Math.max(0, org.tokenBudget - tokensUsed),
      windows: windows.map((w, i) => {
        const s = windowState(w, { ...(counts[i] ?? { used: 0, resetAt: null }), retryAt: null }, now);
        return {
          scope: s.scope,
          period: s.period,
          limit: s.limit,
          used: s.used,
          remaining: s.remaining,
          resetAt: s.resetAt.toISOString(),
        };
      }),
    },
  };
}
