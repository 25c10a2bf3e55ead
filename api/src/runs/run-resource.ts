import {
  findRunView,
  listRuns,
  type RunFilters,
  type RunStatus,
  type RunView,
  type Sql,
} from '@promptmill/infra/db';
import { isErrorCode, publicErrorCode, type RunRecordMode, type TokenUsage } from '@promptmill/workflows';
import { WorkflowNotFoundError } from '@temporalio/client';
import type { AuthContext } from '../auth/auth-context.ts';
import { assertPromptAllowed } from '../auth/scopes.ts';
import { AppError } from '../http/app-error.ts';
import type { Page } from '../http/pagination.ts';
import type { RunDeps } from './deps.ts';
import { waitForOutcome, watchRunDone } from './run-outcome.ts';

const TERMINAL: readonly RunStatus[] = ['succeeded', 'failed', 'canceled'];
export const isTerminal = (status: RunStatus) => TERMINAL.includes(status);

export interface RunResource {
  id: string;
  status: RunStatus;
  mode: RunRecordMode;
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
  /** a chain step's run: its chain run */
  chainRunId: string | null;
  timings: {
    createdAt: string;
    startedAt: string | null;
    finishedAt: string | null;
    durationMs: number | null;
  };
  links: { self: string; cancel: string };
}

export const runLinks = (id: string) => ({ self: `/v1/runs/${id}`, cancel: `/v1/runs/${id}/cancel` });

const clientCode = (code: string) => (isErrorCode(code) ? publicErrorCode(code) : code);

export function toRunResource(r: RunView): RunResource {
  return {
    id: r.id,
    status: r.status,
    mode: r.mode,
    prompt: { id: r.promptId, name: r.promptName },
    version: r.promptVersion,
    model: r.model,
    output: r.output,
    error: r.errorCode ? { code: clientCode(r.errorCode), message: r.errorMessage ?? '' } : null,
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
    chainRunId: r.chainRunId,
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

/** The run if the caller may see it: another organization's → 404, another prompt's (restricted key) → 403. */
export async function findVisibleRun(sql: Sql, auth: AuthContext, id: string): Promise<RunView> {
  const run = await findRunView(sql, auth.org.id, id);
  if (!run) throw runNotFound(id);
  assertPromptAllowed(auth, run.promptId);
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
    auth.org.id,
    { ...filters, promptIds: auth.key.promptIds === null ? null : [...auth.key.promptIds] },
    { limit: page.perPage, offset: page.offset },
  );
  return { runs: rows.map(toRunResource), total };
}

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

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
 * Answers as soon as the run's completion commits (its NOTIFY), or when its workflow completes; the
 * row read then is final (the workflow writes it before it completes).
 */
export async function waitForRun(
  deps: RunDeps,
  auth: AuthContext,
  runId: string,
  seconds: number,
): Promise<RunResource | undefined> {
  const deadline = Date.now() + seconds * 1000;
  // watched before the first read: an end between that read and the wait is not missed
  const done = await watchRunDone(deps, runId);
  try {
    let run = await findVisibleRun(deps.sql, auth, runId);
    // a run this process has just accepted: its workflow is being started in the background
    const dispatched = deps.dispatcher.whenSettled(runId);
    if (dispatched && !isTerminal(run.status)) await settledWithin(dispatched, deadline - Date.now());
    while (!isTerminal(run.status) && Date.now() < deadline) {
      try {
        await waitForOutcome(deps, runId, deadline - Date.now(), { done });
      } catch (err) {
        // not started yet: another process's dispatcher or a sweeper is on it
        if (!(err instanceof WorkflowNotFoundError)) throw err;
        const pause = sleep(Math.min(100, Math.max(0, deadline - Date.now())));
        await (done ? Promise.race([done.next(), pause]) : pause);
      }
      run = await findVisibleRun(deps.sql, auth, runId);
    }
    return isTerminal(run.status) ? toRunResource(run) : undefined;
  } finally {
    done?.release();
  }
}
