import {
  type ChainRunFilters,
  type ChainRunRow,
  type ChainRunStepRow,
  findChain,
  findChainRun,
  listChainRuns,
  type Sql,
} from '@promptmill/infra/db';
import { CHAIN_WORKFLOW, isErrorCode, publicErrorCode } from '@promptmill/workflows';
import type { AuthContext } from '../auth/auth-context.ts';
import { assertPromptAllowed } from '../auth/scopes.ts';
import { AppError } from '../http/app-error.ts';
import type { Page } from '../http/pagination.ts';
import { workflowHandle } from '../temporal.ts';
import type { ChainDeps } from './deps.ts';

const clientCode = (code: string) => (isErrorCode(code) ? publicErrorCode(code) : code);
const errorOf = (code: string | null, message: string | null) =>
  code ? { code: clientCode(code), message: message ?? '' } : null;
const usageOf = (r: { promptTokens: number; completionTokens: number; cost: number }) => ({
  promptTokens: r.promptTokens,
  completionTokens: r.completionTokens,
  totalTokens: r.promptTokens + r.completionTokens,
  cost: Number(r.cost),
});
const iso = (d: Date | null) => d?.toISOString() ?? null;
const span = (from: Date | null, to: Date | null) => (from && to ? to.getTime() - from.getTime() : null);

export const chainRunLinks = (id: string) => ({
  self: `/v1/workflow-runs/${id}`,
  cancel: `/v1/workflow-runs/${id}/cancel`,
});

export const isChainRunTerminal = (status: string) => ['succeeded', 'failed', 'canceled'].includes(status);

export function toChainRunResource(run: ChainRunRow, steps: readonly ChainRunStepRow[] | undefined) {
  const pinned = new Map(run.pinned.map((p) => [p.id, p]));
  return {
    id: run.id,
    workflow: { id: run.chainId, name: run.chainName, revision: run.revision },
    status: run.status,
    input: run.input,
    output: run.output,
    error: errorOf(run.errorCode, run.errorMessage),
    metadata: run.metadata,
    webhookUrl: run.webhookUrl,
    usage: usageOf(run),
    attempts: run.attempts,
    steps: (steps ?? []).map((s) => {
      const p = pinned.get(s.stepId);
      return {
        id: s.stepId,
        status: s.status,
        runId: s.runId,
        prompt: { id: p?.promptId ?? '', name: p?.promptName ?? '', version: p?.promptVersion ?? 0 },
        model: p?.model ?? '',
        output: s.output,
        error: errorOf(s.errorCode, s.errorMessage),
        usage: usageOf(s),
        attempts: s.attempts,
        timings: {
          startedAt: iso(s.startedAt),
          finishedAt: iso(s.finishedAt),
          durationMs: span(s.startedAt, s.finishedAt),
        },
      };
    }),
    timings: {
      createdAt: run.createdAt.toISOString(),
      startedAt: iso(run.startedAt),
      finishedAt: iso(run.finishedAt),
      durationMs: span(run.createdAt, run.finishedAt),
    },
    links: chainRunLinks(run.id),
  };
}

export type ChainRunResource = ReturnType<typeof toChainRunResource>;

const chainRunNotFound = (id: string) =>
  new AppError('WORKFLOW_RUN_NOT_FOUND', `Workflow run '${id}' not found`);

/** The chain run if the caller may see it: another organization's → 404; a step's prompt a restricted key may not use → 403. */
export async function findVisibleChainRun(sql: Sql, auth: AuthContext, id: string) {
  const found = await findChainRun(sql, auth.org.id, id);
  if (!found) throw chainRunNotFound(id);
  for (const step of found.run.pinned) assertPromptAllowed(auth, step.promptId);
  return found;
}

export async function getChainRun(sql: Sql, auth: AuthContext, id: string): Promise<ChainRunResource> {
  const { run, steps } = await findVisibleChainRun(sql, auth, id);
  return toChainRunResource(run, steps);
}

/** A page of chain runs (without their steps: GET one for those), newest first. */
export async function listChainRunResources(
  sql: Sql,
  auth: AuthContext,
  filters: Omit<ChainRunFilters, 'chainId'> & { workflow?: string | undefined },
  page: Page,
  opts: { isChainRequired?: boolean } = {},
) {
  let chainId: string | undefined;
  if (filters.workflow) {
    const chain = await findChain(sql, auth.org.id, filters.workflow);
    if (!chain && opts.isChainRequired) {
      throw new AppError('WORKFLOW_NOT_FOUND', `Workflow '${filters.workflow}' not found`);
    }
    if (!chain) return { runs: [], total: 0 };
    chainId = chain.id;
  }
  const { rows, total } = await listChainRuns(
    sql,
    auth.org.id,
    { status: filters.status, from: filters.from, to: filters.to, chainId },
    { limit: page.perPage, offset: page.offset },
  );
  const allowed = auth.key.promptIds;
  // a key restricted to some prompts sees only chain runs whose every step it may use
  const visible =
    allowed === null ? rows : rows.filter((r) => r.pinned.every((p) => allowed.includes(p.promptId)));
  return {
    runs: visible.map((r) => toChainRunResource(r, undefined)),
    total: allowed === null ? total : visible.length,
  };
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Long-poll: the chain run once it has ended (its workflow returns after recording the end), or undefined after `seconds`. */
export async function waitForChainRun(
  deps: ChainDeps,
  auth: AuthContext,
  id: string,
  seconds: number,
): Promise<ChainRunResource | undefined> {
  const deadline = Date.now() + seconds * 1000;
  const handle = workflowHandle(deps.temporal, CHAIN_WORKFLOW, id);
  for (let round = 0; ; round++) {
    const resource = await getChainRun(deps.sql, auth, id);
    const left = deadline - Date.now();
    if (isChainRunTerminal(resource.status) || left <= 0)
      return isChainRunTerminal(resource.status) ? resource : undefined;
    // the workflow answered, yet the row has not ended (it did not record its end): do not spin
    if (round > 0) await sleep(Math.min(100, left));
    const controller = new AbortController();
    let timer: NodeJS.Timeout | undefined;
    try {
      // the abort ends the long-poll, so a finished wait leaves nothing running behind it
      await Promise.race([
        deps.temporal.client
          .withAbortSignal(controller.signal, () => handle.result())
          // not started yet, failed, or aborted: the row says how it stands; look again shortly
          .catch(() => sleep(Math.min(200, left))),
        new Promise((resolve) => {
          timer = setTimeout(resolve, left);
        }),
      ]);
    } finally {
      clearTimeout(timer);
      controller.abort();
    }
  }
}
