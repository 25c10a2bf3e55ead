// Shared by the chain workflow tests: a chain input builder and fake activities for the chain and
// its step runs (in memory: each step's run outcome is what the fake run activities recorded).
import { Worker } from '@temporalio/worker';
import type { ModelCallRequest } from '../src/contracts/activities.ts';
import type {
  ChainActivities,
  ChainOutcome,
  ChainWorkflowInput,
  FinishChainRequest,
  PinnedStep,
  RecordStepRequest,
  StartStepRequest,
} from '../src/contracts/chain.ts';
import type { ModelCallResult } from '../src/contracts/run.ts';
import { CHAIN_WORKFLOW, type WorkflowOf } from '../src/contracts/workflow-refs.ts';
import { fakeActivities, type WorkflowTestEnv } from './workflow-env.ts';

export function step(id: string, overrides: Partial<PinnedStep> = {}): PinnedStep {
  return {
    id,
    dependsOn: [],
    onError: 'fail',
    variables: {},
    promptId: `pmt_${id}`,
    promptName: `prompt-${id}`,
    versionId: `ver_${id}`,
    promptVersion: 1,
    model: 'model-a',
    isJsonRead: false,
    ...overrides,
  };
}

export function chainInput(chainRunId: string, steps: PinnedStep[], extra: Partial<ChainWorkflowInput> = {}) {
  return {
    chainRunId,
    chainId: 'wf_test',
    chainName: 'test-chain',
    revision: 1,
    orgId: 'org_test',
    keyId: 'key_test',
    input: {},
    steps,
    retry: { maxAttempts: 3, initialIntervalMs: 10 },
    ...extra,
  } satisfies ChainWorkflowInput;
}

export interface ChainRecord {
  started: StartStepRequest[];
  recorded: RecordStepRequest[];
  finished: FinishChainRequest[];
}

/**
 * Fake run and chain activities: `callModel(step, req, attempt)` is scripted by the test with the
 * step's id (read from the rendered message, which the fake start renders as `step:<id> <vars>`).
 */
export function fakeChainActivities(
  callModel: (stepId: string, req: ModelCallRequest, attempt: number) => Promise<ModelCallResult>,
) {
  const stepOfRun = new Map<string, string>();
  const run = fakeActivities(async (req, attempt) =>
    callModel(stepOfRun.get(req.runId) ?? '?', req, attempt),
  );
  const record: ChainRecord = { started: [], recorded: [], finished: [] };
  const chain: ChainActivities = {
    async startChainStep(req) {
      record.started.push(req);
      stepOfRun.set(req.runId, req.step.id);
      return {
        ok: true,
        input: {
          runId: req.runId,
          orgId: req.orgId,
          keyId: req.keyId,
          promptId: req.step.promptId,
          promptName: req.step.promptName,
          promptVersion: req.step.promptVersion,
          versionId: req.step.versionId,
          model: req.step.model,
          fallbackModels: [],
          messages: [{ role: 'user', content: `step:${req.step.id} ${JSON.stringify(req.variables)}` }],
          params: {},
          mode: 'async',
          retry: req.retry,
        },
      };
    },
    async recordChainStep(req) {
      record.recorded.push(req);
      const done = req.runId ? run.recorded.completions.find((c) => c.runId === req.runId) : undefined;
      if (!done) return { status: req.status ?? 'failed', output: null, error: req.error ?? null };
      if (done.status === 'succeeded' && req.isJsonRead) {
        try {
          JSON.parse(done.output ?? '');
        } catch {
          return {
            status: 'failed',
            output: done.output,
            error: { code: 'INVALID_STEP_OUTPUT', message: 'not JSON' },
          };
        }
      }
      const error = done.errorCode ? { code: done.errorCode, message: done.errorMessage ?? '' } : null;
      return { status: done.status, output: done.output, error };
    },
    async finishChainRun(req) {
      record.finished.push(req);
      return { usage: { promptTokens: 0, completionTokens: 0, totalTokens: 0, cost: 0 } };
    },
  };
  return { activities: { ...run, ...chain }, record, run: run.recorded };
}

/** Runs one chain on its own task queue with a fresh worker; `during` runs once it has started. */
export async function runChain(
  t: WorkflowTestEnv,
  activities: object,
  input: ChainWorkflowInput,
  during?: (workflowId: string) => Promise<void>,
): Promise<ChainOutcome> {
  const taskQueue = `chain-test-${input.chainRunId}`;
  const worker = await Worker.create({
    connection: t.env.nativeConnection,
    taskQueue,
    workflowBundle: t.bundle,
    activities,
  });
  return worker.runUntil(async () => {
    const handle = await t.env.client.workflow.start<WorkflowOf<typeof CHAIN_WORKFLOW>>(CHAIN_WORKFLOW.type, {
      workflowId: input.chainRunId,
      taskQueue,
      workflowTaskTimeout: '3 seconds',
      args: [input],
    });
    await during?.(handle.workflowId);
    return handle.result();
  });
}
