import { proxyActivities } from '@temporalio/workflow';
import type { AlertActivities, EvaluateAlertsResult } from '../contracts/alerts.ts';

const { evaluateAlerts } = proxyActivities<AlertActivities>({
  // the schedule starts the next evaluation a minute later: one that runs longer is skipped, not queued
  startToCloseTimeout: '50 seconds',
  retry: { maximumAttempts: 3, initialInterval: '2 seconds' },
});

/**
 * One evaluation of every enabled alert rule, started every minute by the `promptmill-alerts`
 * Temporal schedule (the worker creates it: workers/src/alerts/alert-schedule.ts). Firing is decided
 * per rule and window in Postgres, so a retried or overlapping evaluation never fires twice.
 */
export async function evaluateAlertsWorkflow(): Promise<EvaluateAlertsResult> {
  return evaluateAlerts({});
}
