// The delivery workflow's waits are durable timers of the real length: with the time-skipping test
// server, a message that always fails is attempted 8 times over 5 s, 5 min, 30 min, 2 h, 5 h, 10 h,
// 10 h of workflow time (the test takes seconds), and one that succeeds stops at once.
import { Worker } from '@temporalio/worker';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startWorkflowTestEnv, type WorkflowTestEnv } from '../../test/workflow-env.ts';
import {
  DEFAULT_WEBHOOK_RETRY_DELAYS_MS,
  retryDelayAfter,
  type WebhookAttemptRequest,
  type WebhookAttemptResult,
} from '../contracts/webhooks.ts';
import { DELIVER_WEBHOOK_WORKFLOW, type WorkflowOf } from '../contracts/workflow-refs.ts';

let t: WorkflowTestEnv;
beforeAll(async () => {
  t = await startWorkflowTestEnv();
}, 120_000);
afterAll(() => t?.env.teardown());

/** Attempts as the worker's activity answers them: the wait after attempt `index` is the schedule's. */
async function deliver(messageId: string, succeedsAt: number | null) {
  const seen: { index: number; at: number }[] = [];
  const taskQueue = `wf-test-${messageId}`;
  const worker = await Worker.create({
    connection: t.env.nativeConnection,
    taskQueue,
    workflowBundle: t.bundle,
    activities: {
      async attemptWebhookDelivery(req: WebhookAttemptRequest): Promise<WebhookAttemptResult> {
        seen.push({ index: req.index, at: await t.env.currentTimeMs() });
        if (req.index === succeedsAt) return { outcome: 'delivered', retryInMs: null, responseStatus: 200 };
        const retryInMs = retryDelayAfter(DEFAULT_WEBHOOK_RETRY_DELAYS_MS, req.index, req.once);
        return { outcome: retryInMs === null ? 'final' : 'retry', retryInMs, responseStatus: 500 };
      },
    },
  });
  const result = await worker.runUntil(
    t.env.client.workflow.execute<WorkflowOf<typeof DELIVER_WEBHOOK_WORKFLOW>>(
      DELIVER_WEBHOOK_WORKFLOW.type,
      {
        workflowId: messageId,
        taskQueue,
        args: [{ messageId }],
      },
    ),
  );
  return { seen, result };
}

describe('deliverWebhookWorkflow', () => {
  it('waits 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h between 8 attempts, then gives up', async () => {
    const { seen, result } = await deliver('msg_wftest_fails', null);
    expect(result.outcome).toBe('final');
    expect(seen.map((s) => s.index)).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
    const gaps = seen.slice(1).map((s, i) => s.at - seen[i]!.at);
    gaps.forEach((gap, i) => {
      expect(gap).toBeGreaterThanOrEqual(DEFAULT_WEBHOOK_RETRY_DELAYS_MS[i]!);
      expect(gap).toBeLessThan(DEFAULT_WEBHOOK_RETRY_DELAYS_MS[i]! + 5_000);
    });
  }, 60_000);

  it('stops at the first 2xx', async () => {
    const { seen, result } = await deliver('msg_wftest_third', 2);
    expect(result).toMatchObject({ outcome: 'delivered', responseStatus: 200 });
    expect(seen).toHaveLength(3);
  }, 60_000);
});
