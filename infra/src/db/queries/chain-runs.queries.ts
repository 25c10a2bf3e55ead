import type { ChainRunStatus, PinnedStep, RunError, StepStatus, TokenUsage } from '@promptmill/workflows';
import type { Queryable, Sql } from '../client.ts';
import { insertEvent } from './events.queries.ts';
import { findByIdempotencyKey, releaseExpiredKey } from './idempotency-keys.queries.ts';

// Chain runs: the chain run row, its steps' rows, and the chain's end recorded with its
// `workflow.completed` / `workflow.failed` event (the events outbox) in one transaction.

export interface NewChainRun {
  id: string;
  orgId: string;
  chainId: string;
  revision: number;
  keyId: string | null;
  input: Record<string, unknown>;
  metadata: Record<string, unknown> | null;
  webhookUrl: string | null;
  pinned: PinnedStep[];
  idempotencyKey: string | null;
  requestHash: string | null;
}

const json = (sql: Queryable, v: unknown) => sql.json(v as Record<string, never>);

/** Inserts a queued chain run and its pending steps; false when the idempotency key was taken. */
export async function insertChainRun(sql: Sql, r: NewChainRun): Promise<boolean> {
  return (await sql.begin(async (tx) => {
    const rows = await tx`
      INSERT INTO chain_runs (id, org_id, chain_id, revision, key_id, status, input, metadata, webhook_url,
                              pinned, idempotency_key, request_hash)
      VALUES (${r.id}, ${r.orgId}, ${r.chainId}, ${r.revision}, ${r.keyId}, 'queued', ${json(tx, r.input)},
              ${r.metadata === null ? null : json(tx, r.metadata)}, ${r.webhookUrl}, ${json(tx, r.pinned)},
              ${r.idempotencyKey}, ${r.requestHash})
      ON CONFLICT (org_id, idempotency_key) WHERE idempotency_key IS NOT NULL DO NOTHING
      RETURNING id`;
    if (rows.count === 0) return false;
    const steps = r.pinned.map((s, position) => ({
      chain_run_id: r.id,
      step_id: s.id,
      position,
      status: 'pending',
    }));
    await tx`INSERT INTO chain_run_steps ${tx(steps, 'chain_run_id', 'step_id', 'position', 'status')}`;
    return true;
  })) as boolean;
}

export interface IdempotentChainRun {
  id: string;
  chainId: string;
  status: ChainRunStatus;
  requestHash: string | null;
  isExpired: boolean;
}

export async function findChainRunByIdempotencyKey(
  sql: Queryable,
  orgId: string,
  key: string,
  ttlSeconds: number,
): Promise<IdempotentChainRun | undefined> {
  return findByIdempotencyKey(
    sql,
    'chain_runs',
    { column: 'chain_id', as: 'chainId' },
    orgId,
    key,
    ttlSeconds,
  );
}

export async function releaseExpiredChainIdempotencyKey(
  sql: Queryable,
  orgId: string,
  key: string,
  ttlSeconds: number,
): Promise<void> {
  await releaseExpiredKey(sql, 'chain_runs', orgId, key, ttlSeconds);
}

export interface ChainRunStepRow {
  stepId: string;
  position: number;
  runId: string | null;
  status: StepStatus;
  output: string | null;
  errorCode: string | null;
  errorMessage: string | null;
  promptTokens: number;
  completionTokens: number;
  cost: number;
  attempts: number;
  startedAt: Date | null;
  finishedAt: Date | null;
}

export interface ChainRunRow {
  id: string;
  orgId: string;
  chainId: string;
  chainName: string;
  revision: number;
  keyId: string | null;
  status: ChainRunStatus;
  input: Record<string, unknown>;
  metadata: Record<string, unknown> | null;
  webhookUrl: string | null;
  pinned: PinnedStep[];
  output: string | null;
  errorCode: string | null;
  errorMessage: string | null;
  promptTokens: number;
  completionTokens: number;
  cost: number;
  attempts: number;
  createdAt: Date;
  startedAt: Date | null;
  finishedAt: Date | null;
}

const CHAIN_RUN_COLUMNS = (sql: Queryable) => sql`
  cr.id, cr.org_id AS "orgId", cr.chain_id AS "chainId", c.name AS "chainName", cr.revision,
  cr.key_id AS "keyId", cr.status, cr.input, cr.metadata, cr.webhook_url AS "webhookUrl", cr.pinned,
  cr.output, cr.error_code AS "errorCode", cr.error_message AS "errorMessage",
  cr.prompt_tokens AS "promptTokens", cr.completion_tokens AS "completionTokens", cr.cost, cr.attempts,
  cr.created_at AS "createdAt", cr.started_at AS "startedAt", cr.finished_at AS "finishedAt"`;

export async function findChainRun(
  sql: Queryable,
  orgId: string,
  id: string,
): Promise<{ run: ChainRunRow; steps: ChainRunStepRow[] } | undefined> {
  const [run] = await sql<ChainRunRow[]>`
    SELECT ${CHAIN_RUN_COLUMNS(sql)} FROM chain_runs cr JOIN chains c ON c.id = cr.chain_id
    WHERE cr.id = ${id} AND cr.org_id = ${orgId}`;
  if (!run) return undefined;
  const steps = await sql<ChainRunStepRow[]>`
    SELECT step_id AS "stepId", position, run_id AS "runId", status, output, error_code AS "errorCode",
           error_message AS "errorMessage", prompt_tokens AS "promptTokens",
           completion_tokens AS "completionTokens", cost, attempts, started_at AS "startedAt",
           finished_at AS "finishedAt"
    FROM chain_run_steps WHERE chain_run_id = ${id} ORDER BY position`;
  return { run, steps: [...steps] };
}

export interface ChainRunFilters {
  chainId?: string | undefined;
  status?: ChainRunStatus | undefined;
  from?: Date | undefined;
  to?: Date | undefined;
}

export async function listChainRuns(
  sql: Queryable,
  orgId: string,
  f: ChainRunFilters,
  page: { limit: number; offset: number },
): Promise<{ rows: ChainRunRow[]; total: number }> {
  const where = sql`
    cr.org_id = ${orgId}
    ${f.chainId ? sql`AND cr.chain_id = ${f.chainId}` : sql``}
    ${f.status ? sql`AND cr.status = ${f.status}` : sql``}
    ${f.from ? sql`AND cr.created_at >= ${f.from}` : sql``}
    ${f.to ? sql`AND cr.created_at < ${f.to}` : sql``}`;
  const [rows, [count]] = await Promise.all([
    sql<ChainRunRow[]>`
      SELECT ${CHAIN_RUN_COLUMNS(sql)} FROM chain_runs cr JOIN chains c ON c.id = cr.chain_id
      WHERE ${where} ORDER BY cr.created_at DESC, cr.id DESC
      LIMIT ${page.limit} OFFSET ${page.offset}`,
    sql<{ total: number }[]>`SELECT count(*)::int AS total FROM chain_runs cr WHERE ${where}`,
  ]);
  return { rows: [...rows], total: count?.total ?? 0 };
}

/** A step's run is in place: the step is running, and so is its chain run. Idempotent. */
export async function markStepRunning(
  sql: Queryable,
  chainRunId: string,
  stepId: string,
  runId: string,
): Promise<void> {
  await sql`
    WITH chain AS (
      UPDATE chain_runs SET status = 'running', started_at = COALESCE(started_at, now())
      WHERE id = ${chainRunId} AND status = 'queued'
    )
    UPDATE chain_run_steps SET status = 'running', run_id = ${runId}, started_at = COALESCE(started_at, now())
    WHERE chain_run_id = ${chainRunId} AND step_id = ${stepId} AND status = 'pending'`;
}

export interface StepEnd {
  status: 'succeeded' | 'failed' | 'canceled';
  output: string | null;
  error: RunError | null;
  usage: TokenUsage;
  attempts: number;
}

/** Records a step's end once (a repeated record leaves the first); returns what the step holds. */
export async function recordStepEnd(
  sql: Queryable,
  chainRunId: string,
  stepId: string,
  end: StepEnd,
): Promise<StepEnd> {
  await sql`
    UPDATE chain_run_steps SET status = ${end.status}, output = ${end.output},
      error_code = ${end.error?.code ?? null}, error_message = ${end.error?.message ?? null},
      prompt_tokens = ${end.usage.promptTokens}, completion_tokens = ${end.usage.completionTokens},
      cost = ${end.usage.cost}, attempts = ${end.attempts},
      started_at = COALESCE(started_at, now()), finished_at = now()
    WHERE chain_run_id = ${chainRunId} AND step_id = ${stepId} AND status IN ('pending', 'running')`;
  const [row] = await sql<
    { status: StepEnd['status']; output: string | null; code: string | null; message: string | null }[]
  >`
    SELECT status, output, error_code AS code, error_message AS message FROM chain_run_steps
    WHERE chain_run_id = ${chainRunId} AND step_id = ${stepId}`;
  if (!row) return end;
  return {
    ...end,
    status: row.status,
    output: row.output,
    error: row.code ? ({ code: row.code, message: row.message ?? '' } as RunError) : null,
  };
}

export interface ChainEnd {
  chainRunId: string;
  orgId: string;
  chainId: string;
  chainName: string;
  revision: number;
  status: 'succeeded' | 'failed' | 'canceled';
  output: string | null;
  error: RunError | null;
  eventId: string;
}

/**
 * Records the chain run's end exactly once, in one transaction: steps that never started are
 * `skipped` (`canceled` when the chain was), the totals are the sum of the steps' runs (every
 * attempt), and the `workflow.completed` / `workflow.failed` event goes into the outbox. A repeated
 * call (a retried activity) changes nothing and inserts no event. Returns the recorded totals.
 */
export async function finishChainRun(
  sql: Sql,
  e: ChainEnd,
): Promise<{ usage: TokenUsage; attempts: number }> {
  return (await sql.begin(async (tx) => {
    await tx`
      UPDATE chain_run_steps SET status = ${e.status === 'canceled' ? 'canceled' : 'skipped'}, finished_at = now()
      WHERE chain_run_id = ${e.chainRunId} AND status = 'pending'`;
    const [t] = await tx<
      { promptTokens: number; completionTokens: number; cost: number; attempts: number }[]
    >`
      SELECT COALESCE(sum(prompt_tokens), 0)::int AS "promptTokens",
             COALESCE(sum(completion_tokens), 0)::int AS "completionTokens",
             COALESCE(sum(cost), 0)::numeric AS cost, COALESCE(sum(attempts), 0)::int AS attempts
      FROM runs WHERE chain_run_id = ${e.chainRunId}`;
    const usage: TokenUsage = {
      promptTokens: t!.promptTokens,
      completionTokens: t!.completionTokens,
      totalTokens: t!.promptTokens + t!.completionTokens,
      cost: Number(t!.cost),
    };
    const [finished] = await tx<{ createdAt: Date; finishedAt: Date }[]>`
      UPDATE chain_runs SET status = ${e.status}, output = ${e.output}, error_code = ${e.error?.code ?? null},
        error_message = ${e.error?.message ?? null}, prompt_tokens = ${usage.promptTokens},
        completion_tokens = ${usage.completionTokens}, cost = ${usage.cost}, attempts = ${t!.attempts},
        started_at = COALESCE(started_at, created_at), finished_at = now()
      WHERE id = ${e.chainRunId} AND status IN ('queued', 'running')
      RETURNING created_at AS "createdAt", finished_at AS "finishedAt"`;
    if (finished) {
      const [counts] = await tx<{ succeeded: number; failed: number; total: number }[]>`
        SELECT count(*) FILTER (WHERE status = 'succeeded')::int AS succeeded,
               count(*) FILTER (WHERE status = 'failed')::int AS failed, count(*)::int AS total
        FROM chain_run_steps WHERE chain_run_id = ${e.chainRunId}`;
      await insertEvent(tx, {
        id: e.eventId,
        orgId: e.orgId,
        type: e.status === 'succeeded' ? 'workflow.completed' : 'workflow.failed',
        payload: {
          workflow_run_id: e.chainRunId,
          workflow_id: e.chainId,
          workflow_name: e.chainName,
          revision: e.revision,
          status: e.status,
          tokens_used: usage.totalTokens,
          cost: usage.cost,
          steps: counts,
          duration_ms: finished.finishedAt.getTime() - finished.createdAt.getTime(),
          ...(e.error ? { error: { code: e.error.code, message: e.error.message } } : {}),
        },
      });
    }
    return { usage, attempts: t!.attempts };
  })) as { usage: TokenUsage; attempts: number };
}

/** The chain's workflow could not be started: the run fails at once, with its event. */
export async function failUnstartedChainRun(
  sql: Sql,
  e: Omit<ChainEnd, 'status' | 'output'> & { error: RunError },
): Promise<void> {
  await finishChainRun(sql, { ...e, status: 'failed', output: null });
}
