import {
  CancellationScope,
  executeChild,
  isCancellation,
  proxyLocalActivities,
  uuid4,
  workflowInfo,
} from '@temporalio/workflow';
import {
  type ChainActivities,
  type ChainOutcome,
  type ChainWorkflowInput,
  type PinnedStep,
  type ReferenceContext,
  resolveValue,
  StepOutputError,
  type StepResult,
} from '../contracts/chain.ts';
import type { RunError } from '../contracts/run.ts';
import { runPromptWorkflow } from './run-prompt.workflow.ts';

/** As the api starts single runs: a cancellation reaches a running provider call within ~2.4 s. */
const STEP_WORKFLOW_TASK_TIMEOUT = '3 seconds';

/**
 * The chain's bookkeeping in Postgres, as local activities (a marker in the history, no activity
 * task round trip through the server: that halves the chain's overhead per step, bench/chains.bench.ts),
 * retried until they land (each is idempotent). Each call carries its step id in its summary.
 */
const BOOKKEEPING = {
  startToCloseTimeout: '30 seconds',
  retry: { initialInterval: '200 ms', maximumInterval: '10 seconds' },
} as const;
const { startChainStep, recordChainStep, finishChainRun } =
  proxyLocalActivities<ChainActivities>(BOOKKEEPING);

type StepEnd = StepResult | { status: 'skipped' };

/**
 * One chain run (workflow type `chain`, workflow id = the `wfr_` id). Each step starts as soon as
 * the steps it depends on have ended, so independent steps run in parallel; each is a child
 * `runPromptWorkflow` (workflow id = its `run_` id), i.e. an ordinary run with its retries,
 * fallbacks, usage and events. Chain state lives in Postgres, written by activities: a step's run
 * row is prepared by startChainStep (budget checked then), copied to the step by recordChainStep,
 * and finishChainRun records the chain's end together with its `workflow.*` event.
 *
 * A step that fails with onError `fail` fails the chain: steps not started yet are skipped (the
 * ones running finish). With `continue` the chain goes on; later steps read its output as empty.
 */
export async function chain(input: ChainWorkflowInput): Promise<ChainOutcome> {
  const root = CancellationScope.current();
  const ended = new Map<string, Promise<StepEnd>>();
  const outputs = new Map<string, string | null>();
  let failure: RunError | undefined;
  const summary = (step: PinnedStep, what: string) => `step ${step.id}: ${what}`;

  const record = (step: PinnedStep, req: Partial<Parameters<ChainActivities['recordChainStep']>[0]>) =>
    CancellationScope.nonCancellable(() =>
      recordChainStep.executeWithOptions({ ...BOOKKEEPING, summary: summary(step, 'record') }, [
        {
          chainRunId: input.chainRunId,
          orgId: input.orgId,
          stepId: step.id,
          promptName: step.promptName,
          runId: null,
          isJsonRead: step.isJsonRead,
          ...req,
        },
      ]),
    );

  async function execute(step: PinnedStep): Promise<StepEnd> {
    const ctx: ReferenceContext = { input: input.input, outputs };
    let variables: Record<string, unknown>;
    try {
      variables = resolveValue(step.variables, ctx) as Record<string, unknown>;
    } catch (err) {
      if (!(err instanceof StepOutputError)) throw err;
      return record(step, { status: 'failed', error: { code: err.code, message: err.message } });
    }
    const runId = `run_${uuid4().replaceAll('-', '')}`;
    const started = await CancellationScope.nonCancellable(() =>
      startChainStep.executeWithOptions({ ...BOOKKEEPING, summary: summary(step, `start ${runId}`) }, [
        {
          chainRunId: input.chainRunId,
          orgId: input.orgId,
          keyId: input.keyId,
          runId,
          step,
          variables,
          retry: input.retry,
        },
      ]),
    );
    if (!started.ok) return record(step, { status: 'failed', error: started.error });
    if (root.consideredCancelled) return record(step, { runId, status: 'canceled' });
    try {
      await executeChild(runPromptWorkflow, {
        workflowId: runId,
        args: [started.input],
        workflowTaskTimeout: STEP_WORKFLOW_TASK_TIMEOUT,
        staticSummary: `chain ${input.chainName} step ${step.id} (${input.chainRunId})`,
      });
    } catch (err) {
      // canceled with the chain, or the child did not complete: a run that recorded its end keeps
      // it; one that did not is closed with this status
      const isCanceled = isCancellation(err);
      return record(step, {
        runId,
        status: isCanceled ? 'canceled' : 'failed',
        error: isCanceled
          ? { code: 'RUN_CANCELED', message: 'Run was canceled' }
          : { code: 'INTERNAL_ERROR', message: `Step '${step.id}' run did not complete` },
      });
    }
    return record(step, { runId });
  }

  function launch(step: PinnedStep): Promise<StepEnd> {
    return (async (): Promise<StepEnd> => {
      const deps = await Promise.all(step.dependsOn.map((d) => ended.get(d)));
      for (const [i, dep] of deps.entries()) {
        // a dependency skipped because the chain failed: this one is skipped too
        if (!dep || dep.status === 'skipped') return { status: 'skipped' };
        outputs.set(step.dependsOn[i]!, dep.status === 'succeeded' ? dep.output : null);
      }
      if (failure || root.consideredCancelled) return { status: 'skipped' };
      const end = await execute(step);
      if (end.status === 'succeeded') outputs.set(step.id, end.output);
      else if (end.status === 'failed' && step.onError === 'fail' && !failure) {
        failure = {
          code: end.error?.code ?? 'PROVIDER_ERROR',
          message: `Step '${step.id}' failed: ${end.error?.message ?? 'unknown error'}`,
        };
      }
      return end;
    })();
  }

  // steps come in dependency order: each one's dependencies are launched before it
  for (const step of input.steps) ended.set(step.id, launch(step));
  const ends = await CancellationScope.nonCancellable(() => Promise.all(ended.values()));
  for (const [i, end] of ends.entries()) {
    const id = input.steps[i]!.id;
    if (end.status === 'succeeded') outputs.set(id, end.output);
  }

  const isCanceled = root.consideredCancelled;
  let output: string | null = null;
  if (!isCanceled && !failure) {
    try {
      output = outputOf(input, outputs);
    } catch (err) {
      if (!(err instanceof StepOutputError)) throw err;
      failure = { code: err.code, message: err.message };
    }
  }
  const status: ChainOutcome['status'] = isCanceled ? 'canceled' : failure ? 'failed' : 'succeeded';
  const error: RunError | null = isCanceled
    ? { code: 'RUN_CANCELED', message: 'Chain run was canceled' }
    : (failure ?? null);
  const { usage } = await CancellationScope.nonCancellable(() =>
    finishChainRun.executeWithOptions({ ...BOOKKEEPING, summary: `finish: ${status}` }, [
      {
        chainRunId: input.chainRunId,
        orgId: input.orgId,
        chainId: input.chainId,
        chainName: input.chainName,
        revision: input.revision,
        status,
        output,
        error,
      },
    ]),
  );
  return { chainRunId: workflowInfo().workflowId, status, output, error, usage };
}

/** The chain's output: the named step's, the template's, or (by default) the last step's. */
function outputOf(input: ChainWorkflowInput, outputs: ReadonlyMap<string, string | null>): string | null {
  const spec = input.output;
  if (spec && 'template' in spec) {
    const value = resolveValue(spec.template, { input: input.input, outputs });
    return typeof value === 'string' ? value : JSON.stringify(value);
  }
  const step = spec?.step ?? input.steps.at(-1)?.id;
  return step === undefined ? null : (outputs.get(step) ?? null);
}
