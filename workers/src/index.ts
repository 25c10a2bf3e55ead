export { type ActivityDeps, createActivities } from './activities/index.ts';
export { loadWorkerEnv, type WorkerEnv } from './env.ts';
export { type HostedRunWorker, hostRunWorker } from './host.ts';
export { createWorkerMetrics, type WorkerMetrics } from './metrics.ts';
export { createPriceTable, DEFAULT_PRICES, usageWithCost } from './providers/pricing.ts';
export { createProviderRegistry } from './providers/provider-registry.ts';
export { createRunWorker, WORKFLOWS_PATH } from './worker.ts';
