import type { ErrorCode, RunPromptWorkflowInput, RunRecordMode } from '@promptmill/workflows';
import type { Queryable, Sql } from '../client.ts';
import { type BudgetUsage, type RunBudget, releaseReservations, reserveBudget } from './budget.queries.ts';
import { insertRunEndedEvents } from './events.queries.ts';
import { findByIdempotencyKey, releaseExpiredKey } from './idempotency-keys.queries.ts';

export type RunStatus = 'queued' | 'running' | 'succeeded' | 'failed' | 'canceled';

export interface RunRow {
  id: string;
  orgId: string;
  keyId: string | null;
  promptId: string;
  versionId: string;
  promptVersion: number;
  mode: RunRecordMode;
  status: RunStatus;
  variables: Record<string, unknown>;
  metadata: Record<string, unknown> | null;
  model: string;
  output: string | null;
  errorCode: string | null;
  errorMessage: string | null;
  promptTokens: number;
  completionTokens: number;
  cost: number;
  attempts: number;
  cacheHit: boolean;
  idempotencyKey: string | null;
  requestHash: string | null;
  createdAt: Date;
  startedAt: Date | null;
  finishedAt: Date | null;
}

export const RUN_COLUMNS = (sql: Queryable) => sql`
  id, org_id AS "orgId", key_id AS "keyId", prompt_id AS "promptId", version_id AS "versionId",
  prompt_version AS "promptVersion", mode, status, variables, metadata, model, output,
  error_code AS "errorCode", error_message AS "errorMessage", prompt_tokens AS "promptTokens",
  completion_tokens AS "completionTokens", cost, attempts, cache_hit AS "cacheHit",
  idempotency_key AS "idempotencyKey", request_hash AS "requestHash",
  created_at AS "createdAt", started_at AS "startedAt", finished_at AS "finishedAt"`;

export interface NewRun {
  id: string;
  orgId: string;
  keyId: string | null;
  promptId: string;
  versionId: string;
  promptVersion: number;
  mode: RunRecordMode;
  variables: Record<string, unknown>;
  metadata: Record<string, unknown> | null;
  webhookUrl: string | null;
  model: string;
  idempotencyKey: string | null;
  requestHash: string | null;
  /** async runs: the input their workflow is started with, by the dispatcher or a sweeper */
  workflowInput?: RunPromptWorkflowInput | null | undefined;
  /** a chain step's run: the chain run it belongs to */
  chainRunId?: string | null | undefined;
}

/**
 * Inserts a queued run. With an idempotency key, a concurrent or earlier run holding the same key
 * wins (the unique index `runs_idempotency`): false means nothing was inserted.
 */
export async function insertRun(sql: Queryable, r: NewRun): Promise<boolean> {
  const rows = await sql`
    INSERT INTO runs (id, org_id, key_id, prompt_id, version_id, prompt_version, mode, status, variables,
                      metadata, webhook_url, model, idempotency_key, request_hash, workflow_input, chain_run_id)
    VALUES (${r.id}, ${r.orgId}, ${r.keyId}, ${r.promptId}, ${r.versionId}, ${r.promptVersion}, ${r.mode}, 'queued',
            ${sql.json(r.variables as Record<string, never>)}, ${r.metadata === null ? null : sql.json(r.metadata as Record<string, never>)},
            ${r.webhookUrl}, ${r.model}, ${r.idempotencyKey}, ${r.requestHash},
            ${r.workflowInput ? sql.json(r.workflowInput as unknown as Record<string, never>) : null},
            ${r.chainRunId ?? null})
    ON CONFLICT (org_id, idempotency_key) WHERE idempotency_key IS NOT NULL DO NOTHING
    RETURNING id`;
  return rows.count === 1;
}

export type ReservedInsert =
  | { outcome: 'inserted' }
  /** the idempotency key was taken: nothing inserted, nothing reserved */
  | { outcome: 'duplicate' }
  | ({ outcome: 'refused' } & BudgetUsage);

class BudgetRefused extends Error {
  readonly usage: BudgetUsage;
  constructor(usage: BudgetUsage) {
    super('token budget refused the run');
    this.usage = usage;
  }
}

/**
 * Inserts a queued run and reserves its tokens in one transaction: a refused reservation leaves no
 * run behind, and a run never exists without its reservation. Without a budget it is insertRun.
 */
export async function insertReservedRun(
  sql: Sql,
  run: NewRun,
  budget: RunBudget | null,
): Promise<ReservedInsert> {
  if (!budget) return (await insertRun(sql, run)) ? { outcome: 'inserted' } : { outcome: 'duplicate' };
  try {
    return (await sql.begin(async (tx) => {
      // the run row first: the org's month row is locked only from the reservation to the commit
      if (!(await insertRun(tx, run))) return { outcome: 'duplicate' };
      const decision = await reserveBudget(tx, { ...budget, orgId: run.orgId, runId: run.id });
      if (!decision.isReserved) throw new BudgetRefused({ used: decision.used, reserved: decision.reserved });
      return { outcome: 'inserted' };
    })) as ReservedInsert;
  } catch (err) {
    if (err instanceof BudgetRefused) return { outcome: 'refused', ...err.usage };
    throw err;
  }
}

export interface IdempotentRun {
  id: string;
  /** a replay is shown only to keys that may use this prompt */
  promptId: string;
  status: RunStatus;
  requestHash: string | null;
  /** older than the dedupe window: the key may be reused */
  isExpired: boolean;
}

export async function findRunByIdempotencyKey(
  sql: Queryable,
  orgId: string,
  key: string,
  ttlSeconds: number,
): Promise<IdempotentRun | undefined> {
  return findByIdempotencyKey(sql, 'runs', { column: 'prompt_id', as: 'promptId' }, orgId, key, ttlSeconds);
}

/** Frees a key whose dedupe window is over, so a new run may take it (the old run keeps its data). */
export async function releaseExpiredIdempotencyKey(
  sql: Queryable,
  orgId: string,
  key: string,
  ttlSeconds: number,
): Promise<void> {
  await releaseExpiredKey(sql, 'runs', orgId, key, ttlSeconds);
}

/**
 * The workflow could not be started: the run fails at once and frees its idempotency key, its
 * budget reservation and its workflow input (an async run's outbox entry). A run that has moved on
 * (its workflow runs after all) is left alone.
 */
export async function failUnstartedRun(
  sql: Sql,
  runId: string,
  errorCode: ErrorCode,
  errorMessage: string,
): Promise<void> {
  await sql.begin(async (tx) => {
    const failed = await tx`
      UPDATE runs SET status = 'failed', error_code = ${errorCode}, error_message = ${errorMessage},
        idempotency_key = NULL, finished_at = now(), workflow_input = NULL
      WHERE id = ${runId} AND status = 'queued'`;
    if (failed.count === 1) {
      await releaseReservations(tx, [runId]);
      await insertRunEndedEvents(tx, [runId]);
    }
  });
}

/** A run as the API shows it: the row plus its prompt's name. */
export interface RunView extends RunRow {
  promptName: string;
  webhookUrl: string | null;
  /** a chain step's run: its chain run (`wfr_…`) */
  chainRunId: string | null;
}

const RUN_VIEW_COLUMNS = (sql: Queryable) => sql`
  r.id, r.org_id AS "orgId", r.key_id AS "keyId", r.prompt_id AS "promptId", p.name AS "promptName",
  r.version_id AS "versionId", r.prompt_version AS "promptVersion", r.mode, r.status, r.variables, r.metadata,
  r.webhook_url AS "webhookUrl", r.model, r.output, r.error_code AS "errorCode", r.error_message AS "errorMessage",
  r.prompt_tokens AS "promptTokens", r.completion_tokens AS "completionTokens", r.cost, r.attempts,
  r.cache_hit AS "cacheHit", r.idempotency_key AS "idempotencyKey", r.request_hash AS "requestHash",
  r.created_at AS "createdAt", r.started_at AS "startedAt", r.finished_at AS "finishedAt",
  r.chain_run_id AS "chainRunId"`;

export async function findRunView(sql: Queryable, orgId: string, id: string): Promise<RunView | undefined> {
  const [row] = await sql<RunView[]>`
    SELECT ${RUN_VIEW_COLUMNS(sql)} FROM runs r JOIN prompts p ON p.id = r.prompt_id
    WHERE r.id = ${id} AND r.org_id = ${orgId}`;
  return row;
}

export interface RunFilters {
  status?: RunStatus | undefined;
  /** prompt id or name */
  prompt?: string | undefined;
  from?: Date | undefined;
  to?: Date | undefined;
  /** a prompt-restricted key sees only these prompts' runs */
  promptIds?: string[] | null | undefined;
  /** the step runs of one chain run */
  chainRunId?: string | undefined;
}

/** One page of an organization's runs, newest first, and the total matching the filters. */
export async function listRuns(
  sql: Queryable,
  orgId: string,
  f: RunFilters,
  page: { limit: number; offset: number },
): Promise<{ rows: RunView[]; total: number }> {
  const where = sql`
    r.org_id = ${orgId}
    ${f.status ? sql`AND r.status = ${f.status}` : sql``}
    ${f.prompt ? sql`AND (p.id = ${f.prompt} OR (p.name = ${f.prompt} AND p.deleted_at IS NULL))` : sql``}
    ${f.from ? sql`AND r.created_at >= ${f.from}` : sql``}
    ${f.to ? sql`AND r.created_at < ${f.to}` : sql``}
    ${f.promptIds ? sql`AND r.prompt_id = ANY(${f.promptIds})` : sql``}
    ${f.chainRunId ? sql`AND r.chain_run_id = ${f.chainRunId}` : sql``}`;
  const [rows, [count]] = await Promise.all([
    sql<RunView[]>`
      SELECT ${RUN_VIEW_COLUMNS(sql)} FROM runs r JOIN prompts p ON p.id = r.prompt_id
      WHERE ${where}
      ORDER BY r.created_at DESC, r.id DESC
      LIMIT ${page.limit} OFFSET ${page.offset}`,
    sql<{ total: number }[]>`
      SELECT count(*)::int AS total FROM runs r JOIN prompts p ON p.id = r.prompt_id WHERE ${where}`,
  ]);
  return { rows: [...rows], total: count?.total ?? 0 };
}

export async function findRun(sql: Queryable, orgId: string, id: string): Promise<RunRow | undefined> {
  const [row] = await sql<
    RunRow[]
  >`SELECT ${RUN_COLUMNS(sql)} FROM runs WHERE id = ${id} AND org_id = ${orgId}`;
  return row;
}

/**
 * Deletes up to `batch` expired identical-request cache rows, oldest expiry first; rows another
 * process is deleting are skipped, not waited for. Returns how many went. Small batches keep each
 * statement short however large the backlog (migration 007 indexes expires_at).
 */
export async function deleteExpiredRunCache(sql: Queryable, batch = 1000): Promise<number> {
  const result = await sql`
    DELETE FROM run_cache WHERE cache_key IN (
      SELECT cache_key FROM run_cache WHERE expires_at <= now()
      ORDER BY expires_at LIMIT ${batch}
      FOR UPDATE SKIP LOCKED)`;
  return result.count;
}

/** What a run's waiter answers with once the run has ended (its completion is committed). */
export interface EndedRun {
  status: 'succeeded' | 'failed' | 'canceled';
  output: string | null;
  model: string;
  errorCode: string | null;
  errorMessage: string | null;
  promptTokens: number;
  completionTokens: number;
  cost: number;
  attempts: number;
  createdAt: Date;
  startedAt: Date | null;
  finishedAt: Date;
}

/** The run if it has ended; undefined while it is queued or running (or does not exist). */
export async function findEndedRun(sql: Queryable, runId: string): Promise<EndedRun | undefined> {
  const [row] = await sql<EndedRun[]>`
    SELECT status, output, model, error_code AS "errorCode", error_message AS "errorMessage",
           prompt_tokens AS "promptTokens", completion_tokens AS "completionTokens", cost, attempts,
           created_at AS "createdAt", started_at AS "startedAt", finished_at AS "finishedAt"
    FROM runs WHERE id = ${runId} AND status IN ('succeeded', 'failed', 'canceled')`;
  return row;
}
