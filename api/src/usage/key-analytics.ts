import { findKeyById, orgMonthUsage, type Sql } from '@promptmill/infra/db';
import type { AuthContext } from '../auth/auth-context.ts';
import { AppError } from '../http/app-error.ts';
import { effectiveOrgLimits } from '../limits/windows.ts';
import type { UsageRange } from './usage-range.ts';
import { buildUsageReport } from './usage-report.ts';

const rate = (part: number, whole: number) =>
  whole === 0 ? null : Math.round((part / whole) * 10_000) / 10_000;

/** One key of the caller's organization: its runs over time, success and error rates, tokens, cost. */
export async function keyAnalytics(sql: Sql, auth: AuthContext, keyId: string, range: UsageRange) {
  const key = await findKeyById(sql, auth.org.id, keyId);
  if (!key) throw new AppError('KEY_NOT_FOUND', `API key '${keyId}' not found`);
  const report = await buildUsageReport(sql, auth, { range, keyId });
  const t = report.totals;
  return {
    key: {
      id: key.id,
      name: key.name,
      createdAt: key.createdAt.toISOString(),
      lastUsedAt: key.lastUsedAt?.toISOString() ?? null,
      usageCount: key.usageCount,
    },
    from: report.from,
    to: report.to,
    granularity: report.granularity,
    totals: {
      ...t,
      successRate: rate(t.requests - t.errors - t.canceled, t.requests),
      errorRate: rate(t.errors, t.requests),
    },
    buckets: report.buckets,
  };
}

/** The caller's plan, limits and this UTC month's usage (the numbers token budgets are held to). */
export async function describeBilling(sql: Sql, auth: AuthContext, now: Date) {
  const { org } = auth;
  const start = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), 1));
  const end = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth() + 1, 1));
  const month = await orgMonthUsage(sql, org.id, start);
  const limits = effectiveOrgLimits(org.plan, org.limits);
  return {
    plan: org.plan,
    billingStatus: org.billing,
    limits: {
      requestsPerMinute: limits.perMinute,
      requestsPerDay: limits.perDay,
      tokenBudget: org.tokenBudget,
    },
    period: { start: start.toISOString(), end: end.toISOString() },
    usage: {
      runs: month.runs,
      tokensUsed: month.tokens,
      tokensReserved: month.reservedTokens,
      tokensRemaining: org.tokenBudget === null ? null : Math.max(0, org.tokenBudget - month.tokens),
      cost: Math.round(month.cost * 1e9) / 1e9,
    },
  };
}
