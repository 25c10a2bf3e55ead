import type { Queryable } from '../client.ts';

export interface MemberRow {
  id: string;
  orgId: string;
  email: string;
  name: string | null;
  role: 'owner' | 'admin' | 'member';
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
