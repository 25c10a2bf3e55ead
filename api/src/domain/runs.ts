import { newId } from '@promptmill/infra';
import {
  cancelUndispatchedRun,
  failUnstartedRun,
  findPrompt,
  findRunByIdempotencyKey,
  findRunView,
  insertCacheHitRun,
  insertRun,
  listRuns,
  monthTokensUsed,
  type NewRun,
  type PromptRow,
  type RunFilters,
  type RunStatus,
  type RunView,
  releaseExpiredIdempotencyKey,
  type Sql,
  type VersionRow,
} from '@promptmill/infra/db';
import {
  type ErrorCode,
  type RunMode,
  type RunOutcome,
  type RunPromptWorkflowInput,
  type RunRetryPolicy,
  type TokenUsage,
  ZERO_USAGE,
} from '@promptmill/workflows';
import {
  WorkflowExecutionAlreadyStartedError,
  WorkflowFailedError,
  WorkflowNotFoundError,
} from '@temporalio/client';
import type { AuthContext } from '../auth/auth-context.ts';
import { AppError } from '../http/app-error.ts';
import type { Page } from '../http/pagination.ts';
import type { TemporalHandle } from '../temporal.ts';
import { renderVersion } from './compiled-versions.ts';
import { IDEMPOTENCY_TTL_SECONDS } from './idempotency.ts';
import { noProductionVersion, resolveVersion, type VersionSelector, versionNotFound } from './prompts.ts';
import { lookupRunCache, runCacheKey } from './run-cache.ts';
import type { RunDispatcher, StartResult } from './run-dispatch.ts';

export interface RunDeps {
  sql: Sql;
  temporal: TemporalHandle;
  retry: RunRetryPolicy;
  syncTimeoutMs: number;
  /** starts the workflows of async runs in the background (run-dispatch.ts) */
  dispatcher: RunDispatcher;
}

export interface RunRequest extends VersionSelector {
  prompt: string;
  variables: Record<string, unknown>;
  metadata?: Record<string, unknown> | null;
  webhookUrl?: string | null;
}

export interface PreparedRun {
  runId: string;
  prompt: PromptRow;
  version: VersionRow;
  input: RunPromptWorkflowInput;
}

/** `X-Cache` value for a run of a version with cacheTtlSeconds; undefined when the version does not cache. */
export type CacheStatus = 'HIT' | 'MISS' | undefined;

const TERMINAL: readonly RunStatus[] = ['succeeded', 'failed', 'canceled'];
export const isTerminal = (status: RunStatus) => TERMINAL.includes(status);

/**
 * Workflow task timeout of run workflows. While a local activity (the provider call) runs, the
 * worker heartbeats the workflow task at 80 % of this, and only then sees new events such as a
 * cancellation request: 3 s bounds cancel latency to ~2.4 s (Temporal's default, 10 s, to ~8 s).
 */
const RUN_WORKFLOW_TASK_TIMEOUT = '3 seconds';

/** How long a cancel request waits for the workflow to record the cancellation before answering 202. */
const CANCEL_WAIT_MS = 5_000;

/** How long a cancel request waits for a run's workflow start in flight (dispatcher claimed, not yet started). */
const CANCEL_START_WAIT_MS = 2_000;

/** `allowed_models` entries are exact names or `prefix*`; NULL allows every model. */
export function isModelAllowed(allowed: readonly string[] | null, model: string): boolean {
  if (allowed === null) return true;
  return allowed.some((p) => (p.endsWith('*') ? model.startsWith(p.slice(0, -1)) : p === model));
}

/** 402 INSUFFICIENT_TOKENS when the organization's monthly token budget is already spent. */
export async function assertBudgetLeft(sql: Sql, auth: AuthContext): Promise<void> {
  const budget = auth.key.orgTokenBudget;
  if (budget === null || budget === undefined) return;
  const used = await monthTokensUsed(sql, auth.orgId);
  if (used >= budget) {
    throw new AppError(
      'INSUFFICIENT_TOKENS',
      `Monthly token budget exhausted: ${used} of ${budget} tokens used this month`,
    );
  }
}

/**
 * Resolve prompt and version, check the plan (model allowlist, token budget) and the variables,
 * render: everything before any model is called.
 */
export async function prepareRun(
  deps: RunDeps,
  auth: AuthContext,
  req: RunRequest,
  mode: RunMode,
): Promise<PreparedRun> {
  const prompt = await findPrompt(deps.sql, auth.orgId, req.prompt);
  if (!prompt) throw noProductionVersion(req.prompt);
  if (auth.promptIds && !auth.promptIds.includes(prompt.id)) {
    throw new AppError('FORBIDDEN', 'This API key is not allowed to run this prompt');
  }
  const version = await resolveVersion(deps.sql, prompt, req);
  if (!version) throw versionNotFound(req.prompt, req);
  const allowed = auth.key.orgAllowedModels;
  if (!isModelAllowed(allowed, version.model)) {
    throw new AppError('MODEL_NOT_ALLOWED', `Model '${version.model}' is not allowed for this organization`);
  }
  const messages = renderVersion(version, req.variables);
  await assertBudgetLeft(deps.sql, auth);
  const runId = newId('run');
  const cacheKey = version.cacheTtlSeconds ? runCacheKey(version, req.variables) : undefined;
  return {
    runId,
    prompt,
    version,
    input: {
      runId,
      orgId: auth.orgId,
      keyId: auth.keyId,
      promptId: prompt.id,
      promptName: prompt.name,
      promptVersion: version.version,
      versionId: version.id,
      model: version.model,
      // fallbacks the plan may not use are skipped, not refused: the primary model is allowed
      fallbackModels: version.fallbackModels.filter((m) => isModelAllowed(allowed, m)),
      messages,
      params: version.params,
      mode,
      retry: deps.retry,
      ...(cacheKey ? { cacheKey, cacheTtlSeconds: version.cacheTtlSeconds ?? undefined } : {}),
    },
  };
}

interface IdempotencyClaim {
  key: string;
  requestHash: string;
}

function newRunRow(
  prepared: PreparedRun,
  req: RunRequest,
  idempotency?: IdempotencyClaim,
  withWorkflowInput = false,
): NewRun {
  return {
    id: prepared.runId,
    orgId: prepared.input.orgId,
    keyId: prepared.input.keyId,
    promptId: prepared.prompt.id,
    versionId: prepared.version.id,
    promptVersion: prepared.version.version,
    mode: prepared.input.mode,
    variables: req.variables,
    metadata: req.metadata ?? null,
    webhookUrl: req.webhookUrl ?? null,
    model: prepared.version.model,
    idempotencyKey: idempotency?.key ?? null,
    requestHash: idempotency?.requestHash ?? null,
    workflowInput: withWorkflowInput ? prepared.input : null,
  };
}

const runWorkflowOptions = (temporal: TemporalHandle, input: RunPromptWorkflowInput) => ({
  workflowId: input.runId,
  taskQueue: temporal.taskQueue,
  workflowTaskTimeout: RUN_WORKFLOW_TASK_TIMEOUT,
  args: [input] as [RunPromptWorkflowInput],
});

/**
 * The dispatcher's start of an async run's workflow. Idempotent: a workflow with this id, running
 * or closed, means another start got there first (REJECT_DUPLICATE: a finished run is never re-run).
 */
export async function startRunWorkflowOnce(
  temporal: TemporalHandle,
  input: RunPromptWorkflowInput,
): Promise<StartResult> {
  try {
    await temporal.client.workflow.start('runPromptWorkflow', {
      ...runWorkflowOptions(temporal, input),
      workflowIdReusePolicy: 'REJECT_DUPLICATE',
    });
    return 'started';
  } catch (err) {
    if (err instanceof WorkflowExecutionAlreadyStartedError) return 'already_started';
    throw err;
  }
}

/** Starts the run's workflow (workflow id = run id); if Temporal refuses, the run fails at once. */
async function startWorkflow(deps: RunDeps, prepared: PreparedRun): Promise<void> {
  try {
    await deps.temporal.client.workflow.start(
      'runPromptWorkflow',
      runWorkflowOptions(deps.temporal, prepared.input),
    );
  } catch {
    const message = 'The run could not be started; try again';
    await failUnstartedRun(deps.sql, prepared.runId, 'SERVICE_UNAVAILABLE', message).catch(() => {});
    throw new AppError('SERVICE_UNAVAILABLE', message, { extra: { runId: prepared.runId } });
  }
}

/** Inserts the queued run row, then starts its workflow. */
export async function startRunWorkflow(deps: RunDeps, prepared: PreparedRun, req: RunRequest): Promise<void> {
  await insertRun(deps.sql, newRunRow(prepared, req));
  await startWorkflow(deps, prepared);
}

/** Records a run answered from the identical-request cache; false when the idempotency key was taken. */
async function recordCacheHit(
  deps: RunDeps,
  prepared: PreparedRun,
  req: RunRequest,
  cached: { output: string; model: string },
  idempotency?: IdempotencyClaim,
): Promise<boolean> {
  return insertCacheHitRun(deps.sql, {
    ...newRunRow(prepared, req, idempotency),
    model: cached.model,
    output: cached.output,
  });
}

/** The workflow's result, or undefined when it has not finished within `timeoutMs`. */
export async function waitForOutcome(
  deps: RunDeps,
  runId: string,
  timeoutMs: number,
): Promise<RunOutcome | undefined> {
  const { client } = deps.temporal;
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), Math.max(0, timeoutMs));
  try {
    // the abort also ends the long-poll, so a timed-out wait leaves nothing running behind it
    return (await client.withAbortSignal(controller.signal, () =>
      client.workflow.getHandle(runId).result(),
    )) as RunOutcome;
  } catch (err) {
    if (controller.signal.aborted) return undefined;
    throw err;
  } finally {
    clearTimeout(timer);
  }
}

/** Waits for the run's workflow; after `timeoutMs` → 504 RUN_TIMEOUT (the run goes on). */
export async function awaitRunOutcome(deps: RunDeps, runId: string, timeoutMs: number): Promise<RunOutcome> {
  let outcome: RunOutcome | undefined;
  try {
    outcome = await waitForOutcome(deps, runId, timeoutMs);
  } catch (err) {
    if (err instanceof WorkflowFailedError) {
      throw new AppError('INTERNAL_ERROR', 'Run failed unexpectedly', { extra: { runId } });
    }
    throw err;
  }
  if (!outcome) {
    throw new AppError(
      'RUN_TIMEOUT',
      `Run did not finish within ${Math.round(timeoutMs / 1000)} s; it goes on: poll /v1/runs/${runId}`,
      { extra: { runId } },
    );
  }
  return outcome;
}

/** Error codes that stay internal: clients see PROVIDER_ERROR with the provider's message. */
export function publicErrorCode(code: string): string {
  return code === 'PROVIDER_REJECTED' || code === 'STREAM_BROKEN' ? 'PROVIDER_ERROR' : code;
}

/** A finished run that did not succeed → the API error its code maps to. */
export function outcomeError(outcome: RunOutcome): AppError {
  const code = publicErrorCode(outcome.error?.code ?? 'PROVIDER_ERROR') as ErrorCode;
  return new AppError(code, outcome.error?.message ?? 'Run failed', { extra: { runId: outcome.runId } });
}

export interface SyncRunResult {
  runId: string;
  output: string;
  promptVersion: number;
  model: string;
  usage: TokenUsage;
  cache: CacheStatus;
}

/** A sync run: from the cache when the version caches and an identical request is fresh, else the workflow. */
export async function executeSyncRun(
  deps: RunDeps,
  auth: AuthContext,
  req: RunRequest,
): Promise<SyncRunResult> {
  const prepared = await prepareRun(deps, auth, req, 'sync');
  const { cacheKey } = prepared.input;
  const cached = await lookupRunCache(deps.sql, cacheKey);
  if (cached) {
    await recordCacheHit(deps, prepared, req, cached);
    return {
      runId: prepared.runId,
      output: cached.output,
      promptVersion: prepared.version.version,
      model: cached.model,
      usage: ZERO_USAGE,
      cache: 'HIT',
    };
  }
  await startRunWorkflow(deps, prepared, req);
  const outcome = await awaitRunOutcome(deps, prepared.runId, deps.syncTimeoutMs);
  if (outcome.status !== 'succeeded') throw outcomeError(outcome);
  return {
    runId: outcome.runId,
    output: outcome.output ?? '',
    promptVersion: prepared.version.version,
    model: outcome.model,
    usage: outcome.usage,
    cache: cacheKey ? 'MISS' : undefined,
  };
}

export interface AsyncRunResult {
  runId: string;
  status: RunStatus;
  /** true when an earlier request with the same Idempotency-Key created the run */
  replayed: boolean;
  cache: CacheStatus;
}

/** The run an earlier request with this key made; 409 when that request had another body. */
async function findReplay(
  deps: RunDeps,
  orgId: string,
  claim: IdempotencyClaim,
): Promise<AsyncRunResult | undefined> {
  const existing = await findRunByIdempotencyKey(deps.sql, orgId, claim.key, IDEMPOTENCY_TTL_SECONDS);
  if (!existing) return undefined;
  if (existing.isExpired) {
    await releaseExpiredIdempotencyKey(deps.sql, orgId, claim.key, IDEMPOTENCY_TTL_SECONDS);
    return undefined;
  }
  if (existing.requestHash !== claim.requestHash) {
    throw new AppError(
      'IDEMPOTENCY_CONFLICT',
      'This Idempotency-Key was already used with a different request body',
    );
  }
  return { runId: existing.id, status: existing.status, replayed: true, cache: undefined };
}

/**
 * An async run: queued (its row, with the workflow input, is committed; the dispatcher starts the
 * workflow in the background), answered from the cache, or — with an Idempotency-Key already used
 * for the same body within 24 h — the earlier run. Two concurrent requests with one key make one
 * run: the unique index decides, the loser answers with the winner's run.
 */
export async function createAsyncRun(
  deps: RunDeps,
  auth: AuthContext,
  req: RunRequest,
  idempotency?: IdempotencyClaim,
): Promise<AsyncRunResult> {
  if (idempotency) {
    const replay = await findReplay(deps, auth.orgId, idempotency);
    if (replay) return replay;
  }
  const prepared = await prepareRun(deps, auth, req, 'async');
  const cached = await lookupRunCache(deps.sql, prepared.input.cacheKey);
  // a lost race retries: the winner's run is found, or its expired key was released meanwhile
  for (let round = 0; round < 3; round++) {
    const inserted = cached
      ? await recordCacheHit(deps, prepared, req, cached, idempotency)
      : await insertRun(deps.sql, newRunRow(prepared, req, idempotency, true));
    if (inserted) {
      if (cached) return { runId: prepared.runId, status: 'succeeded', replayed: false, cache: 'HIT' };
      deps.dispatcher.dispatch(prepared.input);
      return {
        runId: prepared.runId,
        status: 'queued',
        replayed: false,
        cache: prepared.input.cacheKey ? 'MISS' : undefined,
      };
    }
    if (!idempotency) break;
    const replay = await findReplay(deps, auth.orgId, idempotency);
    if (replay) return replay;
  }
  throw new AppError('SERVICE_UNAVAILABLE', 'The run could not be created; try again');
}

export interface RunResource {
  id: string;
  status: RunStatus;
  mode: RunMode;
  prompt: { id: string; name: string };
  version: number;
  model: string;
  output: string | null;
  error: { code: string; message: string } | null;
  usage: TokenUsage;
  attempts: number;
  cacheHit: boolean;
  metadata: Record<string, unknown> | null;
  variables: Record<string, unknown>;
  webhookUrl: string | null;
  timings: {
    createdAt: string;
    startedAt: string | null;
    finishedAt: string | null;
    durationMs: number | null;
  };
  links: { self: string; cancel: string };
}

export const runLinks = (id: string) => ({ self: `/v1/runs/${id}`, cancel: `/v1/runs/${id}/cancel` });

export function toRunResource(r: RunView): RunResource {
  return {
    id: r.id,
    status: r.status,
    mode: r.mode,
    prompt: { id: r.promptId, name: r.promptName },
    version: r.promptVersion,
    model: r.model,
    output: r.output,
    error: r.errorCode ? { code: publicErrorCode(r.errorCode), message: r.errorMessage ?? '' } : null,
    usage: {
      promptTokens: r.promptTokens,
      completionTokens: r.completionTokens,
      totalTokens: r.promptTokens + r.completionTokens,
      cost: r.cost,
    },
    attempts: r.attempts,
    cacheHit: r.cacheHit,
    metadata: r.metadata,
    variables: r.variables,
    webhookUrl: r.webhookUrl,
    timings: {
      createdAt: r.createdAt.toISOString(),
      startedAt: r.startedAt?.toISOString() ?? null,
      finishedAt: r.finishedAt?.toISOString() ?? null,
      // queueing included: what the caller waited from creation to the result
      durationMs: r.finishedAt ? r.finishedAt.getTime() - r.createdAt.getTime() : null,
    },
    links: runLinks(r.id),
  };
}

const runNotFound = (id: string) => new AppError('RUN_NOT_FOUND', `Run '${id}' not found`);

async function findVisibleRun(sql: Sql, auth: AuthContext, id: string): Promise<RunView> {
  const run = await findRunView(sql, auth.orgId, id);
  if (!run) throw runNotFound(id);
  if (auth.promptIds && !auth.promptIds.includes(run.promptId)) {
    throw new AppError('FORBIDDEN', 'This API key is not allowed to use this prompt');
  }
  return run;
}

export async function getRun(sql: Sql, auth: AuthContext, id: string): Promise<RunResource> {
  return toRunResource(await findVisibleRun(sql, auth, id));
}

export async function listRunResources(
  sql: Sql,
  auth: AuthContext,
  filters: Omit<RunFilters, 'promptIds'>,
  page: Page,
): Promise<{ runs: RunResource[]; total: number }> {
  const { rows, total } = await listRuns(
    sql,
    auth.orgId,
    { ...filters, promptIds: auth.promptIds },
    { limit: page.perPage, offset: page.offset },
  );
  return { runs: rows.map(toRunResource), total };
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Waits for `promise`, at most `ms`. */
async function settledWithin(promise: Promise<void>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([promise, new Promise((resolve) => (timer = setTimeout(resolve, Math.max(0, ms))))]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Long-poll: the run once it has finished, or undefined if it is still going after `seconds`.
 * The workflow writes the run row before it completes, so the row read after its result is final.
 */
export async function waitForRun(
  deps: RunDeps,
  auth: AuthContext,
  runId: string,
  seconds: number,
): Promise<RunResource | undefined> {
  const deadline = Date.now() + seconds * 1000;
  let run = await findVisibleRun(deps.sql, auth, runId);
  // a run this process has just accepted: its workflow is being started in the background
  const dispatched = deps.dispatcher.whenSettled(runId);
  if (dispatched && !isTerminal(run.status)) await settledWithin(dispatched, deadline - Date.now());
  while (!isTerminal(run.status) && Date.now() < deadline) {
    try {
      await waitForOutcome(deps, runId, deadline - Date.now());
    } catch (err) {
      // not started yet: another process's dispatcher or a sweeper is on it
      if (!(err instanceof WorkflowNotFoundError)) throw err;
      await sleep(Math.min(100, Math.max(0, deadline - Date.now())));
    }
    run = await findVisibleRun(deps.sql, auth, runId);
  }
  return isTerminal(run.status) ? toRunResource(run) : undefined;
}

export interface CancelResult {
  run: RunResource;
  /** true once the run has ended: canceled, or finished before the cancellation reached it */
  hasEnded: boolean;
}

/**
 * Cancels a queued or running run. An async run whose workflow no dispatcher has claimed yet is
 * canceled in the database and never starts; otherwise the workflow is cancelled, records
 * `canceled` (and the usage of the attempts made so far) and ends. A finished run → 409 INVALID_STATE.
 */
export async function cancelRun(deps: RunDeps, auth: AuthContext, runId: string): Promise<CancelResult> {
  const before = await findVisibleRun(deps.sql, auth, runId);
  const invalidState = (status: RunStatus) =>
    new AppError(
      'INVALID_STATE',
      `Run '${runId}' has already ${status === 'canceled' ? 'been canceled' : status}`,
    );
  if (isTerminal(before.status)) throw invalidState(before.status);
  const canceledBeforeStart = async (): Promise<CancelResult | undefined> =>
    (await cancelUndispatchedRun(deps.sql, runId))
      ? { run: toRunResource(await findVisibleRun(deps.sql, auth, runId)), hasEnded: true }
      : undefined;
  if (before.status === 'queued') {
    const canceled = await canceledBeforeStart();
    if (canceled) return canceled;
  }
  const startDeadline = Date.now() + CANCEL_START_WAIT_MS;
  for (;;) {
    try {
      await deps.temporal.client.workflow.getHandle(runId).cancel();
      break;
    } catch (err) {
      if (!(err instanceof WorkflowNotFoundError)) throw err;
    }
    // finished between the read and the cancel (a closed workflow is "not found" to cancel), or
    // claimed by a dispatcher whose start has not landed yet (or failed: then it is unclaimed again)
    const now = await findVisibleRun(deps.sql, auth, runId);
    if (isTerminal(now.status)) throw invalidState(now.status);
    const canceled = now.status === 'queued' ? await canceledBeforeStart() : undefined;
    if (canceled) return canceled;
    if (Date.now() >= startDeadline) {
      throw new AppError('SERVICE_UNAVAILABLE', 'The run is not cancelable yet; try again');
    }
    await sleep(100);
  }
  const ended = await waitForRun(deps, auth, runId, CANCEL_WAIT_MS / 1000);
  if (ended) return { run: ended, hasEnded: true };
  return { run: toRunResource(await findVisibleRun(deps.sql, auth, runId)), hasEnded: false };
}
