import type { Plan } from './db/queries/orgs.queries.ts';

/**
 * Plan request limits (API.md "Limits and quotas"); organizations may override them (limit_overrides).
 * Free orgs have no API, but may still read /v1/me and manage /v1/keys: a small allowance for that.
 * Shared by the api's limiter and the worker's alert evaluation.
 */
export const PLAN_REQUEST_LIMITS: Record<Plan, { perMinute: number; perDay: number }> = {
  free: { perMinute: 30, perDay: 1_000 },
  pro: { perMinute: 60, perDay: 10_000 },
  team: { perMinute: 300, perDay: 100_000 },
  enterprise: { perMinute: 1_000, perDay: 1_000_000 },
};
