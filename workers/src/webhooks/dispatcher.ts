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
        // the client is on this worker's own connection: the first workflow task comes back with the
        // start's answer, to this worker (one matching round trip less per message)
        requestEagerStart: true,
      });
      return true;
    } catch (err) {
      if (err instanceof WorkflowExecutionAlreadyStartedError) return true;
      opts.logger.warn({ err, messageId }, 'webhook delivery workflow start failed; retried by the sweep');
      return false;
    }
  };

  // starts in flight: a round does not wait for its starts, so events committed meanwhile are fanned
  // out at once (each start is one gRPC call; at most MAX_STARTS at a time)
  const MAX_STARTS = 64;
  let inFlight = 0;
  const queue: string[] = [];
  const failed: string[] = [];
  const idle: (() => void)[] = [];
  const pump = () => {
    while (inFlight < MAX_STARTS && queue.length > 0) {
      const id = queue.shift()!;
      inFlight++;
      void start(id).then((ok) => {
        inFlight--;
        if (!ok) failed.push(id);
        if (inFlight === 0 && queue.length === 0) {
          const ids = failed.splice(0);
          void releaseMessageClaims(opts.sql, ids).catch(() => undefined);
          for (const done of idle.splice(0)) done();
        }
        pump();
      });
    }
  };
  const startAll = (ids: string[]) => {
    queue.push(...ids);
    pump();
  };

  const round = async (sweep: boolean) => {
    for (;;) {
      // a backlog bigger than the starts can take waits for them (memory stays bounded)
      if (queue.length >= 4 * batch) await new Promise<void>((r) => idle.push(r));
      const fresh = await fanOutEvents(opts.sql, batch);
      // the sweep for stalled starts runs on the poll, not on every NOTIFY
      const stale = sweep
        ? await reclaimUnstartedMessages(opts.sql, { staleSeconds: opts.restartAfterSeconds, limit: batch })
        : [];
      startAll([...fresh, ...stale]);
      if (fresh.length < batch && stale.length < batch) return;
    }
  };

  let sweepNext = true;
  const kick = (sweep = false) => {
    if (stopped) return;
    sweepNext ||= sweep;
    if (running) {
      again = true;
      return;
    }
    const doSweep = sweepNext;
    sweepNext = false;
    running = round(doSweep)
      .catch((err) => {
        // before the api's first start has migrated the database there is nothing to dispatch
        const level = (err as { code?: string }).code === '42P01' ? 'debug' : 'warn';
        opts.logger[level]({ err }, 'webhook dispatch round failed; retried at the next poll');
      })
      .finally(() => {
        running = undefined;
        if (again) {
          again = false;
          kick();
        }
      });
  };

  const timer = setInterval(() => kick(true), opts.pollIntervalMs);
  const onNotify = () => kick();
  const listening = opts.sql.listen(WEBHOOK_EVENT_CHANNEL, onNotify, onNotify).catch((err) => {
    opts.logger.warn({ err }, 'webhook dispatcher could not LISTEN; polling only');
    return undefined;
  });
  kick(true);

  return {
    kick: () => kick(true),
    async stop() {
      stopped = true;
      clearInterval(timer);
      await (await listening)?.unlisten().catch(() => undefined);
      await running;
      if (inFlight > 0) await new Promise<void>((r) => idle.push(r));
    },
  };
}
