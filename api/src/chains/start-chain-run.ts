import { newId } from '@promptmill/infra';
import {
  type ChainRow,
  failUnstartedChainRun,
  findChain,
  findChainRun,
  findChainRunByIdempotencyKey,
  insertChainRun,
  releaseExpiredChainIdempotencyKey,
} from '@promptmill/infra/db';
import {
  CHAIN_WORKFLOW,
  type ChainRunStatus,
  type ChainWorkflowInput,
  jsonReadsOf,
  type PinnedStep,
} from '@promptmill/workflows';
import { applyDefaults, checkVariables } from '@promptmill/workflows/template';
import { WorkflowExecutionAlreadyStartedError, WorkflowNotFoundError } from '@temporalio/client';
import type { AuthContext } from '../auth/auth-context.ts';
import { isPromptAllowed } from '../auth/scopes.ts';
import { AppError } from '../http/app-error.ts';
import { assertDeliverableUrl } from '../http/webhook-url.ts';
import { isModelAllowed } from '../runs/prepare-run.ts';
import { assertBudgetLeft } from '../runs/run-budget.ts';
import { isDefiniteRefusal } from '../runs/run-workflow.ts';
import { startWorkflow, workflowHandle } from '../temporal.ts';
import { chainNotFound } from './chain-definitions.ts';
import type { StartChainRunBody } from './chains.schemas.ts';
import type { ChainDeps } from './deps.ts';
import { dependencyOrder, invalidChain, resolveChainSteps } from './validate-chain.ts';

export const CHAIN_IDEMPOTENCY_TTL_SECONDS = 24 * 60 * 60;
/** As single runs: a cancellation reaches the workflow within ~2.4 s, a dead worker's task moves on in 3 s. */
const CHAIN_WORKFLOW_TASK_TIMEOUT = '3 seconds';

/**
 * A start that failed without a definite refusal (a timeout, a connection reset) may have started
 * the workflow: ask Temporal a few times before failing the chain run.
 */
async function hasStartedAfterAll(deps: ChainDeps, id: string, err: unknown): Promise<boolean> {
  if (isDefiniteRefusal(err)) return false;
  for (const delayMs of [100, 300, 700]) {
    await new Promise((resolve) => setTimeout(resolve, delayMs));
    try {
      await workflowHandle(deps.temporal, CHAIN_WORKFLOW, id).describe();
      return true;
    } catch (e) {
      if (e instanceof WorkflowNotFoundError) return false;
    }
  }
  return false;
}

export interface StartedChainRun {
  id: string;
  status: ChainRunStatus;
  replayed: boolean;
}

async function findReplay(
  deps: ChainDeps,
  auth: AuthContext,
  claim: { key: string; requestHash: string },
): Promise<StartedChainRun | undefined> {
  const orgId = auth.org.id;
  const found = await findChainRunByIdempotencyKey(deps.sql, orgId, claim.key, CHAIN_IDEMPOTENCY_TTL_SECONDS);
  if (!found) return undefined;
  if (found.isExpired) {
    await releaseExpiredChainIdempotencyKey(deps.sql, orgId, claim.key, CHAIN_IDEMPOTENCY_TTL_SECONDS);
    return undefined;
  }
  if (found.requestHash !== claim.requestHash) {
    throw new AppError(
      'IDEMPOTENCY_CONFLICT',
      'This Idempotency-Key was already used with a different request',
    );
  }
  // same body, yet a run of prompts this key may not use (keys are per organization: another made it)
  if (auth.key.promptIds !== null) {
    const run = await findChainRun(deps.sql, orgId, found.id);
    if (!run?.run.pinned.every((p) => isPromptAllowed(auth, p.promptId))) {
      throw new AppError(
        'IDEMPOTENCY_CONFLICT',
        'This Idempotency-Key was already used for a run this API key may not see',
      );
    }
  }
  return { id: found.id, status: found.status, replayed: true };
}

/** The chain's input checked against its contract (as a prompt's variables are), defaults applied. */
function chainInput(chain: ChainRow, input: Record<string, unknown>): Record<string, unknown> {
  const spec = chain.definition.input;
  const { missing, unknown } = checkVariables(spec, input);
  const details = [
    ...missing.map((n) => ({ field: `input.${n}`, message: 'Required input is missing' })),
    ...unknown.map((n) => ({ field: `input.${n}`, message: 'Input is not declared by this workflow' })),
  ];
  if (missing.length > 0) {
    throw new AppError('MISSING_VARIABLES', `Missing required input: ${missing.join(', ')}`, { details });
  }
  if (unknown.length > 0)
    throw new AppError('UNKNOWN_VARIABLES', `Unknown input: ${unknown.join(', ')}`, { details });
  return applyDefaults(spec, input);
}

/** Each step's prompt version as it resolves now: the run keeps it whatever moves later. */
async function pinSteps(deps: ChainDeps, auth: AuthContext, chain: ChainRow): Promise<PinnedStep[]> {
  const { steps, output } = chain.definition;
  const { resolved, details } = await resolveChainSteps(deps.sql, auth, steps);
  if (details.length > 0) throw invalidChain(details);
  const jsonRead = jsonReadsOf([
    ...steps.map((s) => s.variables),
    output && 'template' in output ? output.template : '',
  ]);
  const pinned = resolved.map(({ step, prompt, version }) => {
    const model = step.model ?? version.model;
    if (!isModelAllowed(auth.org.allowedModels, model)) {
      throw new AppError(
        'MODEL_NOT_ALLOWED',
        `Model '${model}' (step '${step.id}') is not allowed for this organization`,
      );
    }
    return {
      id: step.id,
      dependsOn: step.dependsOn,
      onError: step.onError,
      variables: step.variables,
      promptId: prompt.id,
      promptName: prompt.name,
      versionId: version.id,
      promptVersion: version.version,
      model,
      isJsonRead: jsonRead.has(step.id),
    };
  });
  return dependencyOrder(pinned);
}

/**
 * Starts a chain run: the chain's input and every step's prompt (access, version, model) are checked
 * and pinned, a spent budget refuses it (402), the run and its steps are inserted (an Idempotency-Key
 * already used with the same body answers with that run) and its workflow is started.
 */
export async function startChainRun(
  deps: ChainDeps,
  auth: AuthContext,
  idOrName: string,
  body: StartChainRunBody,
  idempotency?: { key: string; requestHash: string },
): Promise<StartedChainRun> {
  if (body.webhookUrl)
    await assertDeliverableUrl(body.webhookUrl, 'webhookUrl', {
      allowPrivate: deps.webhookAllowPrivate ?? false,
    });
  const chain = await findChain(deps.sql, auth.org.id, idOrName);
  if (!chain) throw chainNotFound(idOrName);
  if (idempotency) {
    const replay = await findReplay(deps, auth, idempotency);
    if (replay) return replay;
  }
  const input = chainInput(chain, body.input);
  const steps = await pinSteps(deps, auth, chain);
  // a spent budget refuses the chain up front; each step then reserves its own tokens as it starts
  await assertBudgetLeft(
    deps.sql,
    auth.org.id,
    auth.org.tokenBudget === null ? null : { budget: auth.org.tokenBudget, tokens: 0 },
  );
  const id = newId('workflowRun');
  const inserted = await insertChainRun(deps.sql, {
    id,
    orgId: auth.org.id,
    chainId: chain.id,
    revision: chain.revision,
    keyId: auth.key.id,
    input,
    metadata: body.metadata ?? null,
    webhookUrl: body.webhookUrl ?? null,
    pinned: steps,
    idempotencyKey: idempotency?.key ?? null,
    requestHash: idempotency?.requestHash ?? null,
  });
  if (!inserted) {
    const replay = idempotency ? await findReplay(deps, auth, idempotency) : undefined;
    if (replay) return replay;
    throw new AppError('SERVICE_UNAVAILABLE', 'The chain run could not be created; try again');
  }
  const workflowInput: ChainWorkflowInput = {
    chainRunId: id,
    chainId: chain.id,
    chainName: chain.name,
    revision: chain.revision,
    orgId: auth.org.id,
    keyId: auth.key.id,
    input,
    steps,
    ...(chain.definition.output ? { output: chain.definition.output } : {}),
    retry: deps.retry,
  };
  try {
    await startWorkflow(deps.temporal, CHAIN_WORKFLOW, {
      workflowId: id,
      taskQueue: deps.temporal.taskQueue,
      workflowTaskTimeout: CHAIN_WORKFLOW_TASK_TIMEOUT,
      workflowIdReusePolicy: 'REJECT_DUPLICATE',
      args: [workflowInput],
      memo: { chain: chain.name, chainId: chain.id, revision: chain.revision, org: auth.org.id },
      staticSummary: `chain ${chain.name} (rev ${chain.revision}) · org ${auth.org.id}`,
      staticDetails: `Steps: ${steps.map((s) => `${s.id} → ${s.promptName} v${s.promptVersion}`).join(', ')}`,
    });
  } catch (err) {
    if (
      !(err instanceof WorkflowExecutionAlreadyStartedError) &&
      !(await hasStartedAfterAll(deps, id, err))
    ) {
      const error = {
        code: 'SERVICE_UNAVAILABLE' as const,
        message: 'The chain run could not be started; try again',
      };
      await failUnstartedChainRun(deps.sql, {
        chainRunId: id,
        orgId: auth.org.id,
        chainId: chain.id,
        chainName: chain.name,
        revision: chain.revision,
        error,
        eventId: newId('event'),
      }).catch(() => {});
      throw new AppError(error.code, error.message, { extra: { workflowRunId: id }, cause: err });
    }
  }
  return { id, status: 'queued', replayed: false };
}
