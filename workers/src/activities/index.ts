import type { Sql } from '@promptmill/infra/db';
import type {
  AlertActivities,
  ChainActivities,
  RunActivities,
  WebhookActivities,
} from '@promptmill/workflows';
import type { WorkerMetrics } from '../metrics.ts';
import type { ModelPrice } from '../providers/pricing.ts';
import type { ProviderRegistry } from '../providers/provider-registry.ts';
import { createWebhookActivities, type WebhookActivityDeps } from '../webhooks/deliver.activity.ts';
import { createAlertActivities } from './alerts.activity.ts';
import { createChainActivities } from './chain.activity.ts';
import { createCompleteRunActivity } from './complete-run.activity.ts';
import { createModelCallActivity } from './model-call.activity.ts';

export interface ActivityDeps {
  sql: Sql;
  providers: ProviderRegistry;
  priceOf: (model: string) => ModelPrice | undefined;
  metrics: WorkerMetrics;
  /** A streaming provider call that receives nothing for this long is aborted. */
  streamIdleTimeoutMs?: number | undefined;
  /** webhook delivery (the sender, the retry schedule, the auto-disable age) */
  webhooks: Omit<WebhookActivityDeps, 'sql' | 'metrics'>;
}

export type WorkerActivities = RunActivities & AlertActivities & ChainActivities & WebhookActivities;

/** Every activity the worker registers, built from its dependencies (no module mocking in tests). */
export function createActivities(deps: ActivityDeps): WorkerActivities {
  return {
    callModel: createModelCallActivity(deps),
    completeRun: createCompleteRunActivity(deps),
    ...createWebhookActivities({ ...deps.webhooks, sql: deps.sql, metrics: deps.metrics }),
    ...createAlertActivities(deps),
    ...createChainActivities(deps),
  };
}
