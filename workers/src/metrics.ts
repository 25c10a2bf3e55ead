import { Counter, collectDefaultMetrics, Histogram, Registry } from 'prom-client';

export interface WorkerMetrics {
  registry: Registry;
  runs: Counter<'prompt' | 'version' | 'model' | 'status'>;
  runDuration: Histogram<'prompt' | 'model'>;
  providerLatency: Histogram<'provider' | 'model'>;
  tokens: Counter<'prompt' | 'model' | 'kind'>;
  cost: Counter<'prompt' | 'model'>;
  webhookDeliveries: Counter<'event' | 'outcome'>;
  webhookLatency: Histogram<string>;
}

const LATENCY_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120];

export function createWorkerMetrics(): WorkerMetrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'promptmill_worker_' });
  const registers = [registry];
  return {
    registry,
    runs: new Counter({
      name: 'promptmill_runs_total',
      help: 'Finished runs by prompt, version, model and status',
      labelNames: ['prompt', 'version', 'model', 'status'],
      registers,
    }),
    runDuration: new Histogram({
      name: 'promptmill_run_duration_seconds',
      help: 'Run duration from workflow start to completion',
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
    webhookDeliveries: new Counter({
      name: 'promptmill_webhook_deliveries_total',
      help: 'Webhook delivery attempts by event and outcome',
      labelNames: ['event', 'outcome'],
      registers,
    }),
    webhookLatency: new Histogram({
      name: 'promptmill_webhook_delivery_latency_seconds',
      help: 'Latency of webhook delivery attempts',
      buckets: LATENCY_BUCKETS,
      registers,
    }),
  };
}
