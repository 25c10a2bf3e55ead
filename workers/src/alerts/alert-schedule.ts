import type { Logger } from '@promptmill/infra/logger';
import { EVALUATE_ALERTS_WORKFLOW } from '@promptmill/workflows';
import { type Client, ScheduleAlreadyRunning, ScheduleOverlapPolicy } from '@temporalio/client';

/** The one schedule that evaluates alert rules every minute (per Temporal namespace). */
export const ALERT_SCHEDULE_ID = 'promptmill-alerts';

/**
 * Creates the alert schedule unless it exists: every worker calls this at start, and the first one
 * wins (the schedule lives in Temporal, so it survives worker restarts and runs while any worker of
 * the task queue is up). An evaluation still running a minute later makes the next one skip.
 */
export async function ensureAlertSchedule(client: Client, taskQueue: string): Promise<'created' | 'exists'> {
  try {
    await client.schedule.create({
      scheduleId: ALERT_SCHEDULE_ID,
      spec: { intervals: [{ every: '1 minute' }] },
      action: {
        type: 'startWorkflow',
        workflowType: EVALUATE_ALERTS_WORKFLOW.type,
        workflowId: 'promptmill-alerts-evaluation',
        taskQueue,
        args: [],
        workflowExecutionTimeout: '5 minutes',
      },
      policies: { overlap: ScheduleOverlapPolicy.SKIP, catchupWindow: '1 minute' },
    });
    return 'created';
  } catch (err) {
    if (err instanceof ScheduleAlreadyRunning) return 'exists';
    throw err;
  }
}

/** ensureAlertSchedule, retried in the background until it succeeds (Temporal may come up later). */
export function startAlertSchedule(
  client: Client,
  taskQueue: string,
  logger: Logger,
  opts: { retryMs?: number } = {},
): () => void {
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  const attempt = async () => {
    try {
      const result = await ensureAlertSchedule(client, taskQueue);
      logger.info({ scheduleId: ALERT_SCHEDULE_ID, result }, 'alert schedule ready');
    } catch (err) {
      logger.warn({ err }, 'alert schedule: could not create it yet, retrying');
      if (!stopped) timer = setTimeout(attempt, opts.retryMs ?? 10_000).unref();
    }
  };
  void attempt();
  return () => {
    stopped = true;
    if (timer) clearTimeout(timer);
  };
}
