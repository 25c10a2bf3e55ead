import type { BufferedMetricUpdate } from '@temporalio/worker';
import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { createTemporalMetricsBridge } from './temporal-metrics.ts';

type Kind = BufferedMetricUpdate['metric']['kind'];

const update = (
  name: string,
  kind: Kind,
  value: number,
  attributes: BufferedMetricUpdate['attributes'] = {},
  unit?: string,
): BufferedMetricUpdate => ({
  metric: { name, kind, valueType: 'int', description: `help of ${name}`, ...(unit ? { unit } : {}) },
  value,
  attributes,
});

const QUEUE = { namespace: 'default', task_queue: 'promptmill-runs' };

describe('createTemporalMetricsBridge: the SDK metrics buffer on the worker registry', () => {
  it('counters add deltas under a _total name; gauges take the last value; up-down counters add', async () => {
    const registry = new Registry();
    const bridge = createTemporalMetricsBridge(registry);
    bridge.ingest([
      update('temporal_workflow_completed', 'counter', 1, { ...QUEUE, workflow_type: 'runPrompt' }),
      update('temporal_workflow_completed', 'counter', 2, { ...QUEUE, workflow_type: 'runPrompt' }),
      update('temporal_worker_task_slots_available', 'gauge', 40, {
        ...QUEUE,
        worker_type: 'ActivityWorker',
      }),
      update('temporal_worker_task_slots_available', 'gauge', 37, {
        ...QUEUE,
        worker_type: 'ActivityWorker',
      }),
      update('temporal_in_flight', 'up-down-counter', 3, QUEUE),
      update('temporal_in_flight', 'up-down-counter', -1, QUEUE),
    ]);
    const text = await registry.metrics();
    expect(text).toContain(
      'temporal_workflow_completed_total{namespace="default",task_queue="promptmill-runs",workflow_type="runPrompt"} 3',
    );
    expect(text).toContain('# HELP temporal_workflow_completed_total help of temporal_workflow_completed');
    expect(text).toContain(
      'temporal_worker_task_slots_available{namespace="default",task_queue="promptmill-runs",worker_type="ActivityWorker"} 37',
    );
    expect(text).toContain('temporal_in_flight{namespace="default",task_queue="promptmill-runs"} 2');
  });

  it('duration histograms (unit s) get a _seconds name and Prometheus buckets', async () => {
    const registry = new Registry();
    const bridge = createTemporalMetricsBridge(registry);
    bridge.ingest([
      update('temporal_activity_schedule_to_start_latency', 'histogram', 0.002, QUEUE, 's'),
      update('temporal_activity_schedule_to_start_latency', 'histogram', 3, QUEUE, 's'),
    ]);
    const text = await registry.metrics();
    const series = 'temporal_activity_schedule_to_start_latency_seconds';
    expect(text).toContain(`${series}_bucket{le="0.005",namespace="default",task_queue="promptmill-runs"} 1`);
    expect(text).toContain(`${series}_bucket{le="5",namespace="default",task_queue="promptmill-runs"} 2`);
    expect(text).toContain(`${series}_count{namespace="default",task_queue="promptmill-runs"} 2`);
    expect(text).toContain(`${series}_sum{namespace="default",task_queue="promptmill-runs"} 3.002`);
  });

  it('keeps only the bounded attributes as labels; a metric may use different ones per update', async () => {
    const registry = new Registry();
    const bridge = createTemporalMetricsBridge(registry);
    bridge.ingest([
      update('temporal_request', 'counter', 1, { operation: 'StartWorkflowExecution' }),
      update('temporal_request', 'counter', 1, {
        namespace: 'default',
        operation: 'PollActivityTaskQueue',
        workflow_id: 'run_123',
        run_id: '0f8e…',
      }),
    ]);
    const text = await registry.metrics();
    expect(text).toContain('temporal_request_total{operation="StartWorkflowExecution"} 1');
    expect(text).toContain('temporal_request_total{namespace="default",operation="PollActivityTaskQueue"} 1');
    expect(text).not.toContain('run_123');
    expect(text).not.toContain('run_id');
  });

  it('drain() empties the buffer into the registry; a new metric appears on the next scrape', async () => {
    const registry = new Registry();
    let pending: BufferedMetricUpdate[] = [update('temporal_worker_start', 'counter', 1, QUEUE)];
    const buffer = {
      retrieveUpdates: () => {
        const out = pending;
        pending = [];
        return out.values();
      },
    };
    const bridge = createTemporalMetricsBridge(registry, buffer);
    expect(await registry.metrics()).not.toContain('temporal_worker_start');
    bridge.drain();
    bridge.drain();
    expect(await registry.metrics()).toContain(
      'temporal_worker_start_total{namespace="default",task_queue="promptmill-runs"} 1',
    );
  });

  it('ignores non-finite values and kinds it does not know', async () => {
    const registry = new Registry();
    const bridge = createTemporalMetricsBridge(registry);
    bridge.ingest([
      update('temporal_sticky_cache_size', 'gauge', Number.NaN, QUEUE),
      update('temporal_mystery', 'sketch' as Kind, 1, QUEUE),
    ]);
    const text = await registry.metrics();
    expect(text).not.toContain('temporal_mystery');
    expect(text).not.toMatch(/temporal_sticky_cache_size\{.*\} NaN/);
  });
});
