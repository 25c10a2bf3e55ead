import { ERROR_TABLE, type ErrorCode, publicErrorCode } from '@promptmill/workflows';
import type { Queryable } from '../client.ts';

export interface EventRow {
  id: string;
  orgId: string;
  type: string;
  /** the webhook payload's `data` object */
  payload: Record<string, unknown>;
  createdAt: Date;
}

/** Appends a domain event to the outbox; the webhook deliverer reads from here. */
export async function insertEvent(
  sql: Queryable,
  e: { id: string; orgId: string; type: string; payload: Record<string, unknown>; createdAt?: Date },
): Promise<EventRow> {
  const [row] = await sql<EventRow[]>`
    INSERT INTO events (id, org_id, type, payload, created_at)
    VALUES (${e.id}, ${e.orgId}, ${e.type}, ${sql.json(e.payload as Parameters<typeof sql.json>[0])},
            COALESCE(${e.createdAt ?? null}::timestamptz, now()))
    RETURNING id, org_id AS "orgId", type, payload, created_at AS "createdAt"`;
  return row!;
}

export async function listEventsForOrg(
  sql: Queryable,
  orgId: string,
  opts: { type?: string; limit?: number } = {},
): Promise<EventRow[]> {
  return sql<EventRow[]>`
    SELECT id, org_id AS "orgId", type, payload, created_at AS "createdAt" FROM events
    WHERE org_id = ${orgId} ${opts.type ? sql`AND type = ${opts.type}` : sql``}
    ORDER BY created_at, id
    LIMIT ${opts.limit ?? 100}`;
}

/** Run error codes kept for operators → the code tenants see instead (publicErrorCode). */
const PUBLIC_CODES: Record<string, string> = Object.fromEntries(
  (Object.keys(ERROR_TABLE) as ErrorCode[])
    .filter((c) => publicErrorCode(c) !== c)
    .map((c) => [c, publicErrorCode(c)]),
);

/** The payload's `api_version` (API.md, Webhooks). */
export const WEBHOOK_API_VERSION = '2026-11-01';

/**
 * Writes the final event of each ended run (`prompt.executed` when it succeeded, `prompt.failed`
 * when it failed or was canceled) into the outbox. Call it in the transaction that records the
 * run's end, after the run row is updated: the event commits with the outcome or not at all. Runs
 * that have not ended are skipped; a run's event id is derived from its id (`evt_` + the run id's
 * random part), so calling it twice for a run writes one event.
 */
export async function insertRunEndedEvents(sql: Queryable, runIds: readonly string[]): Promise<number> {
  if (runIds.length === 0) return 0;
  const rows = await sql`
    INSERT INTO events (id, org_id, type, payload, created_at)
    SELECT 'evt_' || substr(r.id, 5), r.org_id,
           CASE WHEN r.status = 'succeeded' THEN 'prompt.executed' ELSE 'prompt.failed' END,
           jsonb_build_object(
             'execution_id', r.id, 'prompt_id', r.prompt_id, 'prompt_name', p.name,
             'prompt_version', r.prompt_version, 'status', r.status, 'model', r.model,
             'tokens_used', r.prompt_tokens + r.completion_tokens, 'prompt_tokens', r.prompt_tokens,
             'completion_tokens', r.completion_tokens, 'cost', r.cost,
             'error', CASE WHEN r.error_code IS NULL THEN NULL
                           ELSE jsonb_build_object(
                             'code', COALESCE(${sql.json(PUBLIC_CODES)}::jsonb ->> r.error_code, r.error_code),
                             'message', r.error_message) END,
             'cache_hit', r.cache_hit, 'metadata', r.metadata,
             'duration_ms', (extract(epoch FROM r.finished_at - r.created_at) * 1000)::bigint,
             'finished_at', to_char(r.finished_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')),
           COALESCE(r.finished_at, now())
    FROM runs r JOIN prompts p ON p.id = r.prompt_id
    WHERE r.id = ANY(${runIds as string[]}) AND r.status IN ('succeeded', 'failed', 'canceled')
    ON CONFLICT (id) DO NOTHING`;
  return rows.count;
}
