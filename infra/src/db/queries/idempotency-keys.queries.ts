import type { Queryable } from '../client.ts';

// The Idempotency-Key of a run (`runs`) or a chain run (`chain_runs`): unique per org while set; a key
// older than its dedupe window is released (set to NULL) so a new row may take it. Shared by
// runs.queries.ts and chain-runs.queries.ts; not exported from the db index.

export type KeyedTable = 'runs' | 'chain_runs';

/** The row holding `key` in `table`, with `ownerColumn` (what a replay is checked against) as `ownerAs`. */
export async function findByIdempotencyKey<T extends object>(
  sql: Queryable,
  table: KeyedTable,
  owner: { column: string; as: string },
  orgId: string,
  key: string,
  ttlSeconds: number,
): Promise<T | undefined> {
  const [row] = await sql<T[]>`
    SELECT id, ${sql(owner.column)} AS ${sql(owner.as)}, status, request_hash AS "requestHash",
           created_at < now() - make_interval(secs => ${ttlSeconds}) AS "isExpired"
    FROM ${sql(table)} WHERE org_id = ${orgId} AND idempotency_key = ${key}`;
  return row;
}

/** Frees a key whose dedupe window is over, so a new row may take it (the old row keeps its data). */
export async function releaseExpiredKey(
  sql: Queryable,
  table: KeyedTable,
  orgId: string,
  key: string,
  ttlSeconds: number,
): Promise<void> {
  await sql`
    UPDATE ${sql(table)} SET idempotency_key = NULL
    WHERE org_id = ${orgId} AND idempotency_key = ${key}
      AND created_at < now() - make_interval(secs => ${ttlSeconds})`;
}
