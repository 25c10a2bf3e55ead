/**
 * `@promptmill/workers/provider-call`: what a process needs to call model providers and count runs
 * without Temporal — the api's direct mode. Nothing reachable from here imports Temporal (a test
 * walks the import graph: provider-call.test.ts).
 */
export { knownModelLabel } from '../metric-labels.ts';
export { createRunMetrics, type RunMetricFacts, type RunMetrics } from '../metrics.ts';
export { createPriceTable, type ModelPrice, usageWithCost } from '../providers/pricing.ts';
export { createProviderRegistry, type ProviderRegistry } from '../providers/provider-registry.ts';
export {
  type AttemptLog,
  attemptSeq,
  attemptStartOf,
  buildCompletionParams,
  callProvider,
  type DeltaSink,
  type ProviderCall,
  type ProviderCallDeps,
  type ProviderCallOutcome,
  sqlAttemptLog,
} from './provider-call.ts';
export { classifyProviderError, type ProviderFailure } from './provider-failure.ts';
