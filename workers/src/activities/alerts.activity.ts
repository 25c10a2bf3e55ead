import type { Sql } from '@promptmill/infra/db';
import type { AlertActivities } from '@promptmill/workflows';
import { evaluateAlerts } from '../alerts/evaluate-alerts.ts';

/** The alert evaluation activity: every enabled rule at the request's `now` (default: this clock). */
export function createAlertActivities(deps: { sql: Sql }): AlertActivities {
  return {
    evaluateAlerts: (req) => evaluateAlerts(deps, req.now ? new Date(req.now) : new Date()),
  };
}
