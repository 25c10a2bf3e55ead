import { fanOutEvents, reclaimUnstartedMessages, releaseMessageClaims, type Sql } from '@promptmill/infra/db';
import type { Logger } from '@promptmill/infra/logger';
import { DELIVER_WEBHOOK_WORKFLOW, type DeliverWebhookInput } from '@promptmill/workflows';
import { type Client, WorkflowExecutionAlreadyStartedError } from '@temporalio/client';

// The outbox's dispatcher, in every worker process: each committed event becomes one message per
// subscribed target (fanOutEvents, in one statement that marks the event dispatched), and each
// message one delivery workflow whose id is the message id. A NOTIFY on pm_event (a trigger on
// `events`) wakes it at once; a poll every `pollIntervalMs` is the safety net (a NOTIFY missed while
// not listening, a process killed between the fan-out's commit and its starts: those messages are
// claimed again after `restartAfterSeconds` and started again — Temporal refuses a second start of
// a workflow id it has seen, so a message is never delivered twice by this).

export const WEBHOOK_EVENT_CHANNEL = 'pm_event';

export interface WebhookDispatcherOptions {
  sql: Sql;
  client: Client;
  taskQueue: string;
  logger: Logger;
  pollIntervalMs: number;
  restartAfterSeconds: number;
  retryDelaysMs?: number[] | undefined;
  batchSize?: number;
}

export interface WebhookDispatcher {
  /** one round now (tests; the NOTIFY handler) */
  kick(): void;
  stop(): Promise<void>;
}

export function startWebhookDispatcher(opts: WebhookDispatcherOptions): WebhookDispatcher {
  const batch = opts.batchSize ?? 200;
  let stopped = false;
  let running: Promise<void> | undefined;
  let again = false;

  const start = async (messageId: string): Promise<boolean> => {
    const input: DeliverWebhookInput = { messageId, retryDelaysMs: opts.retryDelaysMs };
    try {
      await opts.client.workflow.start(DELIVER_WEBHOOK_WORKFLOW.type, {
        workflowId: messageId,
        taskQueue: opts.taskQueue,
        args: [input],
        workflowIdReusePolicy: 'REJECT_DUPLICATE',
      });
      return true;
    } catch (err) {
      if (err instanceof WorkflowExecutionAlreadyStartedError) return true;
      opts.logger.warn({ err, messageId }, 'webhook delivery workflow start failed; retried by the sweep');
      return false;
    }
  };

  const startAll = async (ids: string[]) => {
    const failed: string[] = [];
    // bounded concurrency: starts are one gRPC call each
    for (let i = 0; i < ids.length; i += 32) {
      const slice = ids.slice(i, i + 32);
      const results = await Promise.all(slice.map(start));
      slice.forEach((id, j) => {
        if (!results[j]) failed.push(id);
      });
    }
    await releaseMessageClaims(opts.sql, failed);
  };

  const round = async () => {
    for (;;) {
      const fresh = await fanOutEvents(opts.sql, batch);
      const stale = await reclaimUnstartedMessages(opts.sql, {
        staleSeconds: opts.restartAfterSeconds,
        limit: batch,
      });
      await startAll([...fresh, ...stale]);
      if (fresh.length < batch && stale.length < batch) return;
    }
  };

  const kick = () => {
    if (stopped) return;
    if (running) {
      again = true;
      return;
    }
    running = round()
      .catch((err) => opts.logger.warn({ err }, 'webhook dispatch round failed; retried at the next poll'))
      .finally(() => {
        running = undefined;
        if (again) {
          again = false;
          kick();
        }
      });
  };

  const timer = setInterval(kick, opts.pollIntervalMs);
  const listening = opts.sql.listen(WEBHOOK_EVENT_CHANNEL, kick, kick).catch((err) => {
    opts.logger.warn({ err }, 'webhook dispatcher could not LISTEN; polling only');
    return undefined;
  });
  kick();

  return {
    kick,
    async stop() {
      stopped = true;
      clearInterval(timer);
      await (await listening)?.unlisten().catch(() => undefined);
      await running;
    },
  };
}
