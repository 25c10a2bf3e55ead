import type { TokenUsage } from '@promptmill/workflows';
import { Counter, collectDefaultMetrics, Histogram, Registry } from 'prom-client';
import { createMetricLabels, type MetricLabelOptions, OTHER } from './metric-labels.ts';

/** A finished run, as its metrics see it. */
export interface RunMetricFacts {
  orgId: string;
  promptName: string;
  promptVersion: number;
  model: string;
  status: string;
  latencyMs: number;
}

/**
 * The run, provider, token and cost series: the worker's, and the api's own in direct mode (same
 * names, same bounded labels: a dashboard does not care which process ran the run).
 */
export interface RunMetrics {
  runs: Counter<'prompt' | 'version' | 'model' | 'status'>;
  runDuration: Histogram<'prompt' | 'model'>;
  providerLatency: Histogram<'provider' | 'model'>;
  tokens: Counter<'prompt' | 'model' | 'kind'>;
  cost: Counter<'prompt' | 'model'>;
  /** runs, duration, tokens and cost of a finished run, under bounded labels (metric-labels.ts) */
  recordRun(run: RunMetricFacts, usage: TokenUsage): void;
  /** one provider call's latency, under a bounded model label */
  observeProviderLatency(provider: string, model: string, seconds: number): void;
}

export interface WorkerMetrics extends RunMetrics {
  registry: Registry;
  webhookDeliveries: Counter<'event' | 'outcome'>;
  webhookLatency: Histogram<string>;
}

/** Defaults of the label budget (see metric-labels.ts); the worker env can change them. */
export const DEFAULT_LABEL_BUDGET = { promptsPerOrg: 50, maxSeries: 10_000 } as const;

const LATENCY_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120];

export interface WorkerMetricOptions extends MetricLabelOptions {
  /** the process metrics (CPU, memory, event loop) too: off where the hosting process has its own */
  processMetrics: boolean;
}

/** The run metrics, registered in `registry`, with their label budget (metric-labels.ts). */
export function createRunMetrics(registry: Registry, opts: Partial<MetricLabelOptions> = {}): RunMetrics {
  const registers = [registry];
  const labels = createMetricLabels({
    ...DEFAULT_LABEL_BUDGET,
    knownModel: () => OTHER,
    ...opts,
  });
  const metrics = {
    runs: new Counter({
      name: 'promptmill_runs_total',
      help: 'Finished runs by prompt, version, model and status',
      labelNames: ['prompt', 'version', 'model', 'status'],
      registers,
    }),
    runDuration: new Histogram({
      name: 'promptmill_run_duration_seconds',
      help: 'Run duration from its start (workflow, or the api in direct mode) to its completion',
      labelNames: ['prompt', 'model'],
      buckets: LATENCY_BUCKETS,
      registers,
    }),
    providerLatency: new Histogram({
      name: 'promptmill_provider_latency_seconds',
      help: 'Latency of one provider call',
      labelNames: ['provider', 'model'],
      buckets: LATENCY_BUCKETS,
      registers,
    }),
    tokens: new Counter({
      name: 'promptmill_tokens_total',
      help: 'Tokens by prompt, model and kind (prompt|completion)',
      labelNames: ['prompt', 'model', 'kind'],
      registers,
    }),
    cost: new Counter({
      name: 'promptmill_cost_usd_total',
      help: 'Cost in USD by prompt and model',
      labelNames: ['prompt', 'model'],
      registers,
    }),
  };
  const open = ['prompt', 'version', 'model'] as const;
  return {
    ...metrics,
    recordRun(run, usage) {
      const prompt = labels.prompt(run.orgId, run.promptName);
      const version = labels.version(prompt, run.promptVersion);
      const model = labels.model(run.model);
      const status = run.status;
      metrics.runs.inc(labels.capped('runs', { prompt, version, model, status }, open));
      const byPrompt = labels.capped('prompt_model', { prompt, model }, open);
      metrics.runDuration.observe(byPrompt, run.latencyMs / 1000);
      metrics.tokens.inc({ ...byPrompt, kind: 'prompt' }, usage.promptTokens);
      metrics.tokens.inc({ ...byPrompt, kind: 'completion' }, usage.completionTokens);
      metrics.cost.inc(byPrompt, usage.cost);
    },
    observeProviderLatency(provider, model, seconds) {
      const bounded = labels.capped('provider_model', { provider, model: labels.model(model) }, open);
      metrics.providerLatency.observe(bounded, seconds);
    },
  };
}

export function createWorkerMetrics(opts: Partial<WorkerMetricOptions> = {}): WorkerMetrics {
  const registry = new Registry();
  if (opts.processMetrics ?? true)
    collectDefaultMetrics({ register: registry, prefix: 'promptmill_worker_' });
  const { processMetrics: _processMetrics, ...labelOptions } = opts;
  return {
    ...createRunMetrics(registry, labelOptions),
    registry,
    webhookDeliveries: new Counter({
      name: 'promptmill_webhook_deliveries_total',
      help: 'Webhook delivery attempts by event and outcome',
      labelNames: ['event', 'outcome'],
      registers: [registry],
    }),
    webhookLatency: new Histogram({
      name: 'promptmill_webhook_delivery_latency_seconds',
      help: 'Webhook delivery latency: from the event (a run ending, a member added) to the 2xx answer',
      buckets: LATENCY_BUCKETS,
      registers: [registry],
    }),
  };
}
