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
