// Starting a sync or streaming run's workflow when Temporal's answer is lost. A start that failed
// with an unknown outcome (deadline exceeded, connection reset, unavailable) may have started the
// workflow: the run must not be failed then. Only a definite refusal fails it. Here the stack's
// real Temporal dev server and worker run the workflows; the client in front of them loses answers.
import {
  Client,
  Connection,
  ServiceError,
  WorkflowExecutionAlreadyStartedError,
  WorkflowNotFoundError,
} from '@temporalio/client';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { RunDeps } from '../../api/src/runs/deps.ts';
import type { RunDispatcher } from '../../api/src/runs/dispatch/index.ts';
import { awaitRunOutcome } from '../../api/src/runs/run-outcome.ts';
import { startRunWorkflow } from '../../api/src/runs/run-workflow.ts';
import type { TemporalHandle } from '../../api/src/temporal.ts';
import { createSql, insertRun } from '../../infra/src/db/index.ts';
import { newId } from '../../infra/src/ids.ts';
import { TASK_QUEUE } from '../../workflows/src/contracts/run.ts';
import type { RunPromptWorkflowInput } from '../../workflows/src/workflows/run-prompt.workflow.ts';
import { createOrg, createPrompt, mock, type TestOrg, unique } from './helpers.ts';
import { pollRun } from './runs-support.ts';

const sql = createSql(inject('databaseUrl'), { max: 3, appName: 'run-start-test' });
let connection: Connection;
let org: TestOrg;
let promptName: string;

beforeAll(async () => {
  connection = await Connection.connect({ address: inject('temporalAddress') });
  // runs are polled every 50 ms: above the default per-minute limit
  org = await createOrg({ plan: 'enterprise', limits: { perMinute: 100_000, perDay: 1_000_000 } });
  promptName = await createPrompt(org.key, { template: 'start {{x}}' });
});
afterAll(async () => {
  await connection?.close();
  await sql.end();
});

/** What @temporalio/client throws when a call's gRPC status is `code` (4 DEADLINE_EXCEEDED, 14 UNAVAILABLE, …). */
function grpcFailure(code: number, details: string): ServiceError {
  const cause = Object.assign(new Error(`${code} ${details}`), { code, details, metadata: {} });
  return new ServiceError('Failed to start Workflow', { cause });
}
const deadlineExceeded = () => grpcFailure(4, 'Deadline exceeded');
const unavailable = () => grpcFailure(14, 'Connection reset by peer');
const invalidArgument = () => grpcFailure(3, 'Invalid WorkflowTaskTimeout');
const permissionDenied = () => grpcFailure(7, 'Request unauthorized');

type Start = Client['workflow']['start'];

/** A client on the stack's Temporal whose `workflow.start` (and optionally `describe`) is replaced. */
function temporalWith(
  start: (real: Start, ...args: Parameters<Start>) => ReturnType<Start>,
  describeFails = false,
) {
  const client = new Client({ connection });
  const realStart = client.workflow.start.bind(client.workflow) as Start;
  client.workflow.start = ((...args: Parameters<Start>) => start(realStart, ...args)) as Start;
  if (describeFails) {
    const realGetHandle = client.workflow.getHandle.bind(client.workflow);
    client.workflow.getHandle = ((...args: Parameters<typeof realGetHandle>) => {
      const handle = realGetHandle(...args);
      handle.describe = async () => {
        throw unavailable();
      };
      return handle;
    }) as typeof client.workflow.getHandle;
  }
  const temporal: TemporalHandle = { connection, client, taskQueue: TASK_QUEUE };
  return temporal;
}

const handedOver: RunPromptWorkflowInput[] = [];
const dispatcher: RunDispatcher = {
  dispatch: (input) => void handedOver.push(input),
  whenSettled: () => undefined,
  sweep: async () => 0,
  pending: () => 0,
  stop: async () => {},
};

const depsWith = (temporal: TemporalHandle): RunDeps => ({
  sql,
  temporal,
  retry: { maxAttempts: 3, initialIntervalMs: 50 },
  syncTimeoutMs: 15_000,
  dispatcher,
});

/** A queued sync run exactly as POST /api/v1/run inserts it, and its workflow input. */
async function queuedSyncRun(text: string): Promise<RunPromptWorkflowInput> {
  const [p] = await sql<{ promptId: string; versionId: string }[]>`
    SELECT p.id AS "promptId", v.id AS "versionId"
    FROM prompts p JOIN prompt_versions v ON v.prompt_id = p.id AND v.version = 1
    WHERE p.org_id = ${org.orgId} AND p.name = ${promptName}`;
  const runId = newId('run');
  const input: RunPromptWorkflowInput = {
    runId,
    orgId: org.orgId,
    keyId: org.keyId,
    promptId: p!.promptId,
    promptName,
    promptVersion: 1,
    versionId: p!.versionId,
    model: 'mock-1',
    fallbackModels: [],
    messages: [{ role: 'user', content: text }],
    params: {},
    mode: 'sync',
    retry: { maxAttempts: 3, initialIntervalMs: 50 },
  };
  await insertRun(sql, {
    id: runId,
    orgId: org.orgId,
    keyId: org.keyId,
    promptId: p!.promptId,
    versionId: p!.versionId,
    promptVersion: 1,
    mode: 'sync',
    variables: { text },
    metadata: null,
    webhookUrl: null,
    model: 'mock-1',
    idempotencyKey: null,
    requestHash: null,
  });
  return input;
}

const statusOf = async (runId: string) =>
  (await sql<{ status: string }[]>`SELECT status FROM runs WHERE id = ${runId}`)[0]?.status;

async function executions(temporal: TemporalHandle, runId: string): Promise<number> {
  let n = 0;
  for await (const _ of temporal.client.workflow.list({ query: `WorkflowId = '${runId}'` })) n++;
  return n;
}

describe('starting a run workflow when the answer is lost', () => {
  it('a start that timed out after the workflow started: the run is not failed, it runs once', async () => {
    const temporal = temporalWith(async (real, ...args) => {
      await real(...args);
      throw deadlineExceeded();
    });
    const text = `${unique('lost-answer')} hello`;
    const input = await queuedSyncRun(text);
    await startRunWorkflow(depsWith(temporal), input);
    expect(await statusOf(input.runId)).not.toBe('failed');
    const outcome = await awaitRunOutcome(depsWith(temporal), input.runId, 15_000);
    expect(outcome).toMatchObject({ status: 'succeeded', output: `Echo: ${text}`, attempts: 1 });
    expect(await statusOf(input.runId)).toBe('succeeded');
    expect(await mock.calls({ contains: text })).toHaveLength(1);
    expect(await executions(temporal, input.runId)).toBe(1);
  });

  it('a start that timed out before it reached Temporal is made again: the run runs once', async () => {
    let calls = 0;
    const temporal = temporalWith(async (real, ...args) => {
      calls++;
      if (calls === 1) throw deadlineExceeded();
      return real(...args);
    });
    const text = `${unique('never-sent')} hello`;
    const input = await queuedSyncRun(text);
    await startRunWorkflow(depsWith(temporal), input);
    const outcome = await awaitRunOutcome(depsWith(temporal), input.runId, 15_000);
    expect(outcome).toMatchObject({ status: 'succeeded', attempts: 1 });
    expect(await mock.calls({ contains: text })).toHaveLength(1);
    expect(await executions(temporal, input.runId)).toBe(1);
  });

  it('"already started" means it is running: the run is not failed', async () => {
    const temporal = temporalWith(async (real, ...args) => {
      await real(...args);
      throw new WorkflowExecutionAlreadyStartedError(
        'Workflow execution already started',
        args[1].workflowId,
        'runPromptWorkflow',
      );
    });
    const text = `${unique('already')} hello`;
    const input = await queuedSyncRun(text);
    await startRunWorkflow(depsWith(temporal), input);
    const outcome = await awaitRunOutcome(depsWith(temporal), input.runId, 15_000);
    expect(outcome).toMatchObject({ status: 'succeeded', attempts: 1 });
    expect(await statusOf(input.runId)).toBe('succeeded');
  });

  it('a definite refusal for now fails the run at once (503 SERVICE_UNAVAILABLE, try again), and nothing runs', async () => {
    const temporal = temporalWith(async () => {
      throw permissionDenied();
    });
    const text = `${unique('refused')} hello`;
    const input = await queuedSyncRun(text);
    await expect(startRunWorkflow(depsWith(temporal), input)).rejects.toMatchObject({
      code: 'SERVICE_UNAVAILABLE',
      message: 'The run could not be started; try again',
    });
    expect(await statusOf(input.runId)).toBe('failed');
    await expect(temporal.client.workflow.getHandle(input.runId).describe()).rejects.toBeInstanceOf(
      WorkflowNotFoundError,
    );
  });

  it('a refusal for good fails the run with its own code, not 503 "try again" (hardening item 4)', async () => {
    const temporal = temporalWith(async () => {
      throw invalidArgument();
    });
    const input = await queuedSyncRun(`${unique('refused-for-good')} hello`);
    await expect(startRunWorkflow(depsWith(temporal), input)).rejects.toMatchObject({
      code: 'INTERNAL_ERROR',
      status: 500,
      message: 'The run could not be started: the workflow service refused it (INVALID_ARGUMENT)',
    });
    expect(await statusOf(input.runId)).toBe('failed');
  });

  it('an unknown outcome, then no workflow and a refused second start: the run fails with the refusal', async () => {
    let calls = 0;
    const temporal = temporalWith(async () => {
      calls++;
      throw calls === 1 ? deadlineExceeded() : invalidArgument();
    });
    const input = await queuedSyncRun(`${unique('then-refused')} hello`);
    await expect(startRunWorkflow(depsWith(temporal), input)).rejects.toMatchObject({
      code: 'INTERNAL_ERROR',
      message: 'The run could not be started: the workflow service refused it (INVALID_ARGUMENT)',
    });
    expect(calls).toBeGreaterThan(1);
    expect(await statusOf(input.runId)).toBe('failed');
  });

  it('an outcome that stays unknown: 503 with the run id, the run joins the async outbox and a sweeper starts it once', async () => {
    const temporal = temporalWith(async () => {
      throw unavailable();
    }, true);
    const text = `${unique('unknown')} hello`;
    const input = await queuedSyncRun(text);
    handedOver.length = 0;
    await expect(startRunWorkflow(depsWith(temporal), input)).rejects.toMatchObject({
      code: 'SERVICE_UNAVAILABLE',
      message: `The run's start could not be confirmed; it starts when the workflow service answers: poll /v1/runs/${input.runId}`,
    });
    expect(handedOver.map((i) => i.runId)).toEqual([input.runId]);
    const [row] = await sql<{ status: string; hasInput: boolean }[]>`
      SELECT status, workflow_input IS NOT NULL AS "hasInput" FROM runs WHERE id = ${input.runId}`;
    expect(row).toEqual({ status: 'queued', hasInput: true });
    // this test's dispatcher drops it: the stack's api sweeps it up a few seconds later
    const run = await pollRun(org.key, input.runId, undefined, 30_000);
    expect(run).toMatchObject({ status: 'succeeded', output: `Echo: ${text}` });
    expect(await mock.calls({ contains: text })).toHaveLength(1);
  }, 40_000);
});
