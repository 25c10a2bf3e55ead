import type { ChainDefinition } from '@promptmill/workflows';
import type { Queryable, Sql } from '../client.ts';

// Chain definitions (API `/v1/workflows`): the chain row (name, current revision) and its
// immutable revisions.

export interface ChainRow {
  id: string;
  orgId: string;
  name: string;
  description: string;
  revision: number;
  definition: ChainDefinition;
  createdAt: Date;
  updatedAt: Date;
}

const CHAIN_COLUMNS = (sql: Queryable) => sql`
  c.id, c.org_id AS "orgId", c.name, r.description, r.revision, r.definition,
  c.created_at AS "createdAt", r.created_at AS "updatedAt"`;

const isUniqueViolation = (err: unknown) => (err as { code?: string }).code === '23505';

/** Inserts a chain and its first revision; false when the name is taken in the organization. */
export async function insertChain(
  sql: Sql,
  c: { id: string; orgId: string; name: string; description: string; definition: ChainDefinition },
): Promise<boolean> {
  try {
    await sql.begin(async (tx) => {
      await tx`
        INSERT INTO chains (id, org_id, name, description, revision)
        VALUES (${c.id}, ${c.orgId}, ${c.name}, ${c.description}, 1)`;
      await tx`
        INSERT INTO chain_revisions (chain_id, revision, description, definition)
        VALUES (${c.id}, 1, ${c.description}, ${tx.json(c.definition as unknown as Record<string, never>)})`;
    });
    return true;
  } catch (err) {
    if (isUniqueViolation(err)) return false;
    throw err;
  }
}

/**
 * Adds a revision and makes it current (the chain row is locked meanwhile, so concurrent updates
 * get consecutive revisions). 'conflict' when the new name is taken, undefined when there is no chain.
 */
export async function appendChainRevision(
  sql: Sql,
  c: { id: string; orgId: string; name: string; description: string; definition: ChainDefinition },
): Promise<number | 'conflict' | undefined> {
  try {
    return (await sql.begin(async (tx) => {
      const [row] = await tx<{ revision: number }[]>`
        UPDATE chains SET revision = revision + 1, name = ${c.name}, description = ${c.description},
          updated_at = now()
        WHERE id = ${c.id} AND org_id = ${c.orgId} AND deleted_at IS NULL
        RETURNING revision`;
      if (!row) return undefined;
      await tx`
        INSERT INTO chain_revisions (chain_id, revision, description, definition)
        VALUES (${c.id}, ${row.revision}, ${c.description},
                ${tx.json(c.definition as unknown as Record<string, never>)})`;
      return row.revision;
    })) as number | undefined;
  } catch (err) {
    if (isUniqueViolation(err)) return 'conflict';
    throw err;
  }
}

/** A live chain by id or name, at its current revision or at `revision`. */
export async function findChain(
  sql: Queryable,
  orgId: string,
  idOrName: string,
  revision?: number,
): Promise<ChainRow | undefined> {
  const [row] = await sql<ChainRow[]>`
    SELECT ${CHAIN_COLUMNS(sql)} FROM chains c
    JOIN chain_revisions r ON r.chain_id = c.id AND r.revision = COALESCE(${revision ?? null}::int, c.revision)
    WHERE c.org_id = ${orgId} AND (c.id = ${idOrName} OR c.name = ${idOrName}) AND c.deleted_at IS NULL
    ORDER BY (c.id = ${idOrName}) DESC
    LIMIT 1`;
  return row;
}

export async function listChains(
  sql: Queryable,
  orgId: string,
  page: { limit: number; offset: number },
): Promise<{ rows: ChainRow[]; total: number }> {
  const [rows, [count]] = await Promise.all([
    sql<ChainRow[]>`
      SELECT ${CHAIN_COLUMNS(sql)} FROM chains c
      JOIN chain_revisions r ON r.chain_id = c.id AND r.revision = c.revision
      WHERE c.org_id = ${orgId} AND c.deleted_at IS NULL
      ORDER BY c.created_at DESC, c.id DESC
      LIMIT ${page.limit} OFFSET ${page.offset}`,
    sql<{ total: number }[]>`
      SELECT count(*)::int AS total FROM chains WHERE org_id = ${orgId} AND deleted_at IS NULL`,
  ]);
  return { rows: [...rows], total: count?.total ?? 0 };
}

/** Soft delete: the chain's runs keep their data; its name is free again. */
export async function softDeleteChain(sql: Queryable, orgId: string, id: string): Promise<boolean> {
  const rows = await sql`
    UPDATE chains SET deleted_at = now() WHERE id = ${id} AND org_id = ${orgId} AND deleted_at IS NULL`;
  return rows.count === 1;
}
