import type { Queryable } from '../client.ts';

export type MemberRole = 'owner' | 'admin' | 'member';

export interface MemberRow {
  id: string;
  orgId: string;
  email: string;
  name: string | null;
  role: MemberRole;
  suspendedAt: Date | null;
  createdAt: Date;
}

export async function insertMember(
  sql: Queryable,
  m: { id: string; orgId: string; email: string; name: string | null; role: MemberRow['role'] },
): Promise<MemberRow> {
  const [row] = await sql<MemberRow[]>`
    INSERT INTO members (id, org_id, email, name, role)
    VALUES (${m.id}, ${m.orgId}, ${m.email}, ${m.name}, ${m.role})
    RETURNING id, org_id AS "orgId", email, name, role, suspended_at AS "suspendedAt", created_at AS "createdAt"`;
  return row!;
}

const MEMBER_COLUMNS = (sql: Queryable) => sql`
  id, org_id AS "orgId", email, name, role, suspended_at AS "suspendedAt", created_at AS "createdAt"`;

/** A member that has not been removed (removed members are kept for the keys they owned). */
export async function findMember(sql: Queryable, orgId: string, id: string): Promise<MemberRow | undefined> {
  const [row] = await sql<MemberRow[]>`
    SELECT ${MEMBER_COLUMNS(sql)} FROM members
    WHERE org_id = ${orgId} AND id = ${id} AND removed_at IS NULL`;
  return row;
}

export async function listMembers(
  sql: Queryable,
  orgId: string,
  page: { limit: number; offset: number },
): Promise<{ rows: MemberRow[]; total: number }> {
  const rows = await sql<MemberRow[]>`
    SELECT ${MEMBER_COLUMNS(sql)} FROM members
    WHERE org_id = ${orgId} AND removed_at IS NULL
    ORDER BY created_at, id
    LIMIT ${page.limit} OFFSET ${page.offset}`;
  const [count] = await sql<{ n: number }[]>`
    SELECT count(*)::int AS n FROM members WHERE org_id = ${orgId} AND removed_at IS NULL`;
  return { rows, total: count?.n ?? 0 };
}

export async function setMemberSuspended(
  sql: Queryable,
  orgId: string,
  id: string,
  suspendedAt: Date | null,
): Promise<MemberRow | undefined> {
  const [row] = await sql<MemberRow[]>`
    UPDATE members SET suspended_at = ${suspendedAt}
    WHERE org_id = ${orgId} AND id = ${id} AND removed_at IS NULL
    RETURNING ${MEMBER_COLUMNS(sql)}`;
  return row;
}

export async function markMemberRemoved(
  sql: Queryable,
  orgId: string,
  id: string,
  at: Date,
): Promise<MemberRow | undefined> {
  const [row] = await sql<MemberRow[]>`
    UPDATE members SET removed_at = ${at}
    WHERE org_id = ${orgId} AND id = ${id} AND removed_at IS NULL
    RETURNING ${MEMBER_COLUMNS(sql)}`;
  return row;
}

/** The organization's owner member (every organization has exactly one). */
export async function findOrgOwner(sql: Queryable, orgId: string): Promise<MemberRow | undefined> {
  const [row] = await sql<MemberRow[]>`
    SELECT ${MEMBER_COLUMNS(sql)} FROM members
    WHERE org_id = ${orgId} AND role = 'owner' AND removed_at IS NULL
    ORDER BY created_at LIMIT 1`;
  return row;
}
