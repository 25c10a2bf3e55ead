export { type ActivityDeps, createActivities, type WorkerActivities } from './activities/index.ts';
export { ALERT_SCHEDULE_ID, ensureAlertSchedule } from './alerts/alert-schedule.ts';
export { ALERT_DEFAULTS, evaluateAlerts } from './alerts/evaluate-alerts.ts';
export { loadWorkerEnv, type WorkerEnv } from './env.ts';
export { type HostedRunWorker, hostRunWorker } from './host.ts';
export { createWorkerMetrics, type WorkerMetrics } from './metrics.ts';
export { createPriceTable, DEFAULT_PRICES, usageWithCost } from './providers/pricing.ts';
export { createProviderRegistry } from './providers/provider-registry.ts';
export { createRunWorker, WORKFLOWS_PATH } from './worker.ts';
