/**
 * The Temporal SDK's own worker metrics (task slots, pollers, schedule-to-start latency, sticky cache,
 * workflow and activity outcomes) on the worker's /metrics port, next to Promptmill's.
 *
 * SDK 1.24 serves Prometheus text only on an address of its own (`metrics.prometheus.bindAddress`).
 * To keep one port, the runtime buffers its metric updates instead (`metrics.buffer`, a MetricsBuffer,
 * experimental in the SDK) and this bridge folds them into the prom-client registry: counters add their
 * deltas, gauges take the value, up-down counters add theirs, histograms observe. Names follow the SDK's
 * Prometheus exporter with `countersTotalSuffix`, `unitSuffix` and `useSecondsForDurations`:
 * `temporal_request_total`, `temporal_workflow_task_schedule_to_start_latency_seconds`.
 *
 * Only the attributes in TEMPORAL_LABELS become labels (all bounded by code: queue, types, operation);
 * any other attribute the SDK adds later is dropped rather than risk an unbounded label.
 */
import type { BufferedMetricUpdate, MetricsBuffer } from '@temporalio/worker';
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';

export const TEMPORAL_LABELS = [
  'namespace',
  'task_queue',
  'worker_type',
  'poller_type',
  'operation',
  'status_code',
  'workflow_type',
  'activity_type',
  'failure_reason',
  'eager',
] as const;

/** Seconds; the SDK's latencies run from sub-millisecond polls to long activities. */
const BUCKETS = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300];

/**
 * The SDK metrics the dashboards and alerts read (infra/grafana, infra/prometheus), by kind. The bridge
 * exports whatever the SDK emits; this is what the ops files may rely on, so the SDK renaming one fails
 * a test: test/ops/dashboards.test.ts checks the ops files use only these (and Promptmill's own), and
 * test/e2e/prometheus.test.ts that a live worker serves them.
 */
export const TEMPORAL_OPS_METRICS = {
  temporal_worker_task_slots_available: 'gauge',
  temporal_worker_task_slots_used: 'gauge',
  temporal_num_pollers: 'gauge',
  temporal_sticky_cache_size: 'gauge',
  temporal_workflow_task_schedule_to_start_latency_seconds: 'histogram',
  temporal_workflow_task_execution_latency_seconds: 'histogram',
  temporal_workflow_completed_total: 'counter',
  temporal_workflow_failed_total: 'counter',
  temporal_local_activity_total: 'counter',
  temporal_local_activity_execution_failed_total: 'counter',
  temporal_local_activity_execution_latency_seconds: 'histogram',
  temporal_request_total: 'counter',
  temporal_request_failure_total: 'counter',
} as const satisfies Record<string, 'counter' | 'gauge' | 'histogram'>;

type Label = (typeof TEMPORAL_LABELS)[number];
type Labels = Partial<Record<Label, string>>;

interface Sink {
  apply(labels: Labels, value: number): void;
}

export interface TemporalMetricsBridge {
  /** Moves the buffered updates into the registry; call before every scrape and every second or so. */
  drain(): void;
  /** Folds updates in (drain's second half; tests feed it directly). */
  ingest(updates: Iterable<BufferedMetricUpdate>): void;
}

export function createTemporalMetricsBridge(
  registry: Registry,
  buffer?: Pick<MetricsBuffer, 'retrieveUpdates'>,
): TemporalMetricsBridge {
  const sinks = new Map<string, Sink | null>();
  const labelNames = [...TEMPORAL_LABELS];
  const registers = [registry];

  const sinkFor = (update: BufferedMetricUpdate): Sink | null => {
    const { name, kind, unit, description } = update.metric;
    let sink = sinks.get(name);
    if (sink !== undefined) return sink;
    const help = description || name;
    const seconds = unit === 's' && !name.endsWith('_seconds') ? `${name}_seconds` : name;
    if (kind === 'counter') {
      const counter = new Counter({ name: withTotal(name), help, labelNames, registers });
      sink = { apply: (labels, value) => counter.inc(labels, value) };
    } else if (kind === 'gauge') {
      const gauge = new Gauge({ name: seconds, help, labelNames, registers });
      sink = { apply: (labels, value) => gauge.set(labels, value) };
    } else if (kind === 'up-down-counter') {
      const gauge = new Gauge({ name, help, labelNames, registers });
      sink = { apply: (labels, value) => gauge.inc(labels, value) };
    } else if (kind === 'histogram') {
      const histogram = new Histogram({ name: seconds, help, labelNames, buckets: BUCKETS, registers });
      sink = { apply: (labels, value) => histogram.observe(labels, value) };
    } else {
      sink = null;
    }
    sinks.set(name, sink);
    return sink;
  };

  const ingest = (updates: Iterable<BufferedMetricUpdate>) => {
    for (const update of updates) {
      const sink = sinkFor(update);
      if (!sink || !Number.isFinite(update.value)) continue;
      sink.apply(boundedLabels(update.attributes), update.value);
    }
  };

  return {
    ingest,
    drain() {
      if (buffer) ingest(buffer.retrieveUpdates());
    },
  };
}

const withTotal = (name: string) => (name.endsWith('_total') ? name : `${name}_total`);

function boundedLabels(attributes: BufferedMetricUpdate['attributes']): Labels {
  const labels: Labels = {};
  for (const label of TEMPORAL_LABELS) {
    const value = attributes[label];
    if (value !== undefined) labels[label] = String(value);
  }
  return labels;
}
