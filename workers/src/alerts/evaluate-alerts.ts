import { newId, PLAN_REQUEST_LIMITS } from '@promptmill/infra';
import {
  endedRunCounts,
  fireAlert,
  listRulesToEvaluate,
  orgMonthUsage,
  type RuleToEvaluate,
  recordAlertEvaluation,
  type Sql,
  usageTotals,
} from '@promptmill/infra/db';
import type { EvaluateAlertsResult } from '@promptmill/workflows';

// Alert evaluation: every enabled rule against its organization's usage at `now`. Called every minute
// by the promptmill-alerts schedule's workflow (through the evaluateAlerts activity), and directly by
// tests with any `now`. A rule fires at most once per window (fireAlert decides it in Postgres).

const HOUR_MS = 3_600_000;
const DAY_MS = 86_400_000;

/** Defaults of API.md: usage at 80 % of a limit; 5 % failed runs over 15 min, from 20 runs on. */
export const ALERT_DEFAULTS = {
  usageThresholdPercent: 80,
  errorRatePercent: 5,
  errorRateWindowMinutes: 15,
  errorRateMinRequests: 20,
} as const;

interface Measure {
  value: number;
  threshold: number;
  isCrossing: boolean;
  /** the window the rule fires at most once in */
  window: { key: string; start: Date; end: Date };
  /** what the event tells beyond value and threshold */
  detail: Record<string, unknown>;
}

const dayStart = (t: Date) => new Date(Math.floor(t.getTime() / DAY_MS) * DAY_MS);
/** the end of the hour holding `t`: usage of the hours up to now */
const hourAfter = (t: Date) => new Date(Math.floor(t.getTime() / HOUR_MS) * HOUR_MS + HOUR_MS);
const round2 = (v: number) => Math.round(v * 100) / 100;
const dayWindow = (t: Date) => {
  const start = dayStart(t);
  return { key: `day:${start.toISOString().slice(0, 10)}`, start, end: new Date(start.getTime() + DAY_MS) };
};

interface Limit {
  limit: 'requests_per_day' | 'tokens_per_month';
  scope: 'org' | 'key';
  max: number;
  used: number;
  window: { key: string; start: Date; end: Date };
}

/** The tightest of the org's daily run limit, the key's daily limit and the monthly token budget. */
async function measureUsage(sql: Sql, rule: RuleToEvaluate, now: Date): Promise<Measure> {
  const day = dayWindow(now);
  const upTo = hourAfter(now);
  const limits: Limit[] = [];
  const orgPerDay = rule.limitOverrides.perDay ?? PLAN_REQUEST_LIMITS[rule.plan].perDay;
  const org = await usageTotals(sql, rule.orgId, day.start, upTo);
  limits.push({ limit: 'requests_per_day', scope: 'org', max: orgPerDay, used: org.requests, window: day });
  const keyPerDay = rule.keyRateLimits.perDay;
  if (rule.keyId && keyPerDay !== undefined) {
    const key = await usageTotals(sql, rule.orgId, day.start, upTo, rule.keyId);
    limits.push({ limit: 'requests_per_day', scope: 'key', max: keyPerDay, used: key.requests, window: day });
  }
  if (rule.tokenBudget !== null) {
    const start = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), 1));
    const end = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth() + 1, 1));
    const month = await orgMonthUsage(sql, rule.orgId, start);
    limits.push({
      limit: 'tokens_per_month',
      scope: 'org',
      max: rule.tokenBudget,
      used: month.tokens,
      window: { key: `month:${start.toISOString().slice(0, 7)}`, start, end },
    });
  }
  const ratio = (l: Limit) => (l.max <= 0 ? 1 : l.used / l.max);
  const tightest = limits.reduce((a, b) => (ratio(b) > ratio(a) ? b : a));
  const value = round2(ratio(tightest) * 100);
  const threshold = rule.thresholdPercent ?? ALERT_DEFAULTS.usageThresholdPercent;
  return {
    value,
    threshold,
    isCrossing: value >= threshold,
    window: { ...tightest.window, key: `${tightest.scope}:${tightest.limit}:${tightest.window.key}` },
    detail: { limit: tightest.limit, scope: tightest.scope, limit_value: tightest.max, used: tightest.used },
  };
}

/** Failed runs among those that ended in the last windowMinutes, from minRequests runs on. */
async function measureErrors(sql: Sql, rule: RuleToEvaluate, now: Date): Promise<Measure> {
  const minutes = rule.windowMinutes ?? ALERT_DEFAULTS.errorRateWindowMinutes;
  const minRequests = rule.minRequests ?? ALERT_DEFAULTS.errorRateMinRequests;
  const { requests, errors } = await endedRunCounts(
    sql,
    rule.orgId,
    new Date(now.getTime() - minutes * 60_000),
    now,
  );
  const value = requests === 0 ? 0 : round2((errors / requests) * 100);
  const threshold = rule.thresholdPercent ?? ALERT_DEFAULTS.errorRatePercent;
  const size = minutes * 60_000;
  const start = new Date(Math.floor(now.getTime() / size) * size);
  return {
    value,
    threshold,
    isCrossing: requests >= minRequests && value >= threshold,
    window: { key: `errors:${start.toISOString()}`, start, end: new Date(start.getTime() + size) },
    detail: { requests, errors, window_minutes: minutes, min_requests: minRequests },
  };
}

/** Cost of the organization's runs this UTC day. */
async function measureCost(sql: Sql, rule: RuleToEvaluate, now: Date): Promise<Measure> {
  const day = dayWindow(now);
  const { cost } = await usageTotals(sql, rule.orgId, day.start, hourAfter(now));
  const threshold = rule.amountUsd ?? 0;
  const value = Math.round(cost * 1e9) / 1e9;
  return { value, threshold, isCrossing: value >= threshold, window: day, detail: { cost_usd: value } };
}

const MEASURES = { usage_threshold: measureUsage, error_rate: measureErrors, cost_threshold: measureCost };

export interface AlertEvaluationDeps {
  sql: Sql;
  newEventId?: () => string;
}

/** Evaluates every enabled rule (or one organization's) at `now`; fires the ones crossing, once per window. */
export async function evaluateAlerts(
  deps: AlertEvaluationDeps,
  now: Date,
  opts: { orgId?: string } = {},
): Promise<EvaluateAlertsResult> {
  const rules = await listRulesToEvaluate(deps.sql, opts.orgId);
  const fired: string[] = [];
  const failures: unknown[] = [];
  for (const rule of rules) {
    try {
      if (await evaluateRule(deps, rule, now)) fired.push(rule.id);
    } catch (err) {
      failures.push(err);
    }
  }
  // one rule's failure does not hold up the others; a retry of the whole evaluation fires nothing twice
  if (failures.length > 0) {
    throw new AggregateError(
      failures,
      `${failures.length} of ${rules.length} alert rules failed to evaluate`,
    );
  }
  return { evaluated: rules.length, fired };
}

/** One rule at `now`: true = it fired (a usage.alert event was written). */
async function evaluateRule(deps: AlertEvaluationDeps, rule: RuleToEvaluate, now: Date): Promise<boolean> {
  const m = await MEASURES[rule.type](deps.sql, rule, now);
  if (!m.isCrossing) {
    await recordAlertEvaluation(deps.sql, rule.id, { state: 'ok', value: m.value, at: now });
    return false;
  }
  const isFired = await fireAlert(deps.sql, {
    id: rule.id,
    orgId: rule.orgId,
    window: m.window.key,
    value: m.value,
    at: now,
    eventId: deps.newEventId?.() ?? newId('event'),
    payload: {
      alert_id: rule.id,
      alert_type: rule.type,
      name: rule.name,
      state: 'firing',
      value: m.value,
      threshold: m.threshold,
      window: { start: m.window.start.toISOString(), end: m.window.end.toISOString() },
      evaluated_at: now.toISOString(),
      ...m.detail,
    },
  });
  if (!isFired) await recordAlertEvaluation(deps.sql, rule.id, { state: 'firing', value: m.value, at: now });
  return isFired;
}
