import { dashboard, note, Row, singleStat, timeSeries } from '../panels.ts';
import { quantile, sumRate } from '../promql.ts';

/**
 * Temporal workers and the task-queue backlog, from the SDK metrics each worker serves on its /metrics
 * (workers/src/temporal-metrics.ts). Sync runs use local activities, so their work shows under
 * `temporal_local_activity_*`; the backlog is how long workflow tasks wait for a worker.
 */
export function temporalDashboard() {
  return dashboard(
    'promptmill-temporal',
    'Promptmill Temporal workers',
    'Worker processes, task slots, pollers and the task-queue backlog (schedule-to-start latency), from the Temporal SDK.',
  )
    .withPanel(
      note(
        'Backlog and the Temporal UI',
        'The backlog is read from the workers: **schedule-to-start latency** is how long a task waited in the ' +
          "queue for a worker (alert PromptmillRunBacklog: p95 above 5 s). The Temporal cluster's own metrics " +
          "(approximate backlog count per task queue) are not scraped by this setup; scrape your cluster's " +
          'metrics endpoint to add them. Every run is a workflow whose id is the run id: search it in the ' +
          'Temporal UI for attempts, retries and timings.',
        { h: 3 },
      ),
    )
    .withRow(new Row('Workers'))
    .withPanel(
      singleStat('Workers up', 'Worker processes answering /metrics.', 'short', {
        expr: 'sum(up{job="promptmill-worker"})',
      }),
    )
    .withPanel(
      singleStat('Workflows completed / s', 'Run and chain workflows finished per second.', 'ops', {
        expr: sumRate('temporal_workflow_completed_total', ''),
      }),
    )
    .withPanel(
      singleStat('Workflow task wait p95', 'Schedule-to-start latency of workflow tasks: the backlog.', 's', {
        expr: quantile(0.95, 'temporal_workflow_task_schedule_to_start_latency_seconds', ''),
      }),
    )
    .withPanel(
      timeSeries(
        'Task slots used by worker type',
        'Slots in use per worker process and type; when used reaches used + available, new tasks wait.',
        'short',
        [
          {
            expr: 'sum by (instance, worker_type) (temporal_worker_task_slots_used)',
            legend: '{{worker_type}} {{instance}}',
          },
        ],
      ),
    )
    .withPanel(
      timeSeries(
        'Task slots available by worker type',
        'Free slots (WORKER_MAX_CONCURRENT_ACTIVITIES for activities).',
        'short',
        [
          {
            expr: 'sum by (instance, worker_type) (temporal_worker_task_slots_available)',
            legend: '{{worker_type}} {{instance}}',
          },
        ],
      ),
    )
    .withPanel(
      timeSeries(
        'Pollers by type',
        'Long polls each worker keeps open on the task queue (none: the worker is not taking work).',
        'short',
        [
          {
            expr: 'sum by (task_queue, poller_type) (temporal_num_pollers)',
            legend: '{{task_queue}} {{poller_type}}',
          },
        ],
      ),
    )
    .withPanel(
      timeSeries(
        'Sticky cache size',
        'Workflows cached by each worker (cached ones skip history replay on their next task).',
        'short',
        [{ expr: 'sum by (instance) (temporal_sticky_cache_size)', legend: '{{instance}}' }],
      ),
    )
    .withRow(new Row('Backlog'))
    .withPanel(
      timeSeries(
        'Workflow task schedule-to-start',
        'How long workflow tasks wait in the task queue for a worker: the backlog as the workers see it.',
        's',
        [
          {
            expr: quantile(0.5, 'temporal_workflow_task_schedule_to_start_latency_seconds', 'task_queue'),
            legend: 'p50 {{task_queue}}',
          },
          {
            expr: quantile(0.95, 'temporal_workflow_task_schedule_to_start_latency_seconds', 'task_queue'),
            legend: 'p95 {{task_queue}}',
          },
        ],
      ),
    )
    .withPanel(
      timeSeries(
        'Workflow task execution p95',
        'Time a worker spends on one workflow task (CPU-bound: replay and workflow code).',
        's',
        [
          {
            expr: quantile(0.95, 'temporal_workflow_task_execution_latency_seconds', 'workflow_type'),
            legend: '{{workflow_type}}',
          },
        ],
      ),
    )
    .withRow(new Row('Workflows and activities'))
    .withPanel(
      timeSeries(
        'Workflows by type and outcome',
        'Completed and failed workflows per second. A failed run completes its workflow (the run row says failed); a workflow failure is a bug or a terminated workflow.',
        'ops',
        [
          {
            expr: sumRate('temporal_workflow_completed_total', 'workflow_type'),
            legend: 'completed {{workflow_type}}',
          },
          {
            expr: sumRate('temporal_workflow_failed_total', 'workflow_type'),
            legend: 'failed {{workflow_type}}',
          },
        ],
      ),
    )
    .withPanel(
      timeSeries(
        'Activity executions by type',
        'Local activity executions per second (the model call and the run completion of sync runs).',
        'ops',
        [{ expr: sumRate('temporal_local_activity_total', 'activity_type'), legend: '{{activity_type}}' }],
      ),
    )
    .withPanel(
      timeSeries(
        'Activity failures by type and reason',
        'Failed activity attempts; the workflow retries or falls back as its policy says.',
        'ops',
        [
          {
            expr: sumRate('temporal_local_activity_execution_failed_total', 'activity_type, failure_reason'),
            legend: '{{activity_type}} {{failure_reason}}',
          },
        ],
      ),
    )
    .withPanel(
      timeSeries('Activity execution p95 by type', 'Duration of one local activity execution.', 's', [
        {
          expr: quantile(0.95, 'temporal_local_activity_execution_latency_seconds', 'activity_type'),
          legend: '{{activity_type}}',
        },
      ]),
    )
    .withPanel(
      timeSeries(
        'Temporal requests by operation',
        'Requests from the workers to the Temporal frontend; failures are errors of the cluster or the network.',
        'reqps',
        [
          { expr: sumRate('temporal_request_total', 'operation'), legend: '{{operation}}' },
          { expr: sumRate('temporal_request_failure_total', 'operation'), legend: 'failed {{operation}}' },
        ],
        { w: 24 },
      ),
    );
}
