import { newId } from '@promptmill/infra';
import {
  findMember,
  insertEvent,
  insertMember,
  listMembers,
  type MemberRow,
  markMemberRemoved,
  revokeKeysOwnedBy,
  type Sql,
  setMemberSuspended,
} from '@promptmill/infra/db';
import { z } from 'zod';
import type { AuthContext } from '../auth/auth-context.ts';
import { assertCurrentSecret } from '../auth/scopes.ts';
import { AppError } from '../http/app-error.ts';
import type { Page } from '../http/pagination.ts';
import { isAtMost, outranks } from './roles.ts';

export const addMemberSchema = z
  .object({
    email: z.string().trim().email().max(320),
    name: z.string().trim().min(1).max(200).optional(),
    role: z.enum(['admin', 'member']).default('member'),
  })
  .strict();
export type AddMemberInput = z.infer<typeof addMemberSchema>;

export const memberViewSchema = z.object({
  id: z.string(),
  email: z.string(),
  name: z.string().nullable(),
  role: z.enum(['owner', 'admin', 'member']),
  status: z.enum(['active', 'suspended']),
  suspendedAt: z.string().nullable(),
  createdAt: z.string(),
});
export type MemberView = z.infer<typeof memberViewSchema>;

export function toMemberView(m: MemberRow): MemberView {
  return {
    id: m.id,
    email: m.email,
    name: m.name,
    role: m.role,
    status: m.suspendedAt ? 'suspended' : 'active',
    suspendedAt: m.suspendedAt ? m.suspendedAt.toISOString() : null,
    createdAt: m.createdAt.toISOString(),
  };
}

/** The webhook `data` of team.member_added / team.member_removed (snake_case like every payload). */
function memberEventData(m: MemberRow, actorKeyId: string): Record<string, unknown> {
  return {
    member_id: m.id,
    organization_id: m.orgId,
    email: m.email,
    name: m.name,
    role: m.role,
    actor_key_id: actorKeyId,
  };
}

const isUniqueViolation = (err: unknown) =>
  typeof err === 'object' && err !== null && (err as { code?: unknown }).code === '23505';

const notFound = (id: string) => new AppError('MEMBER_NOT_FOUND', `Member '${id}' not found`);
const forbidden = (message: string) => new AppError('FORBIDDEN', message);

/**
 * Every member route: the key's current secret (not one replaced by a rotation) and no prompt
 * restriction — members are organization-wide, and removing one revokes keys of any prompt.
 */
function assertMayManageMembers(auth: AuthContext): void {
  assertCurrentSecret(auth);
  if (auth.key.promptIds !== null) {
    throw forbidden('This API key is restricted to some prompts and cannot manage members');
  }
}

/**
 * A key acts with its owner's role: it changes only members of a lower role (owner > admin > member),
 * and adds members up to its own role. The owner's access changes only through the operator API.
 */
function assertMayChange(auth: AuthContext, target: { role: MemberRow['role'] }, adding = false): void {
  if (auth.member.role === 'member') {
    throw forbidden('Only a key owned by the organization owner or an admin can change members');
  }
  if (adding ? isAtMost(target.role, auth.member.role) : outranks(auth.member.role, target.role)) return;
  if (target.role === 'owner') {
    throw forbidden("The organization owner's access can only be changed through the operator API");
  }
  throw forbidden('Only a key owned by the organization owner can change an admin');
}

export async function listOrgMembers(
  sql: Sql,
  auth: AuthContext,
  page: Page,
): Promise<{ data: MemberView[]; total: number }> {
  assertMayManageMembers(auth);
  const { rows, total } = await listMembers(sql, auth.org.id, { limit: page.perPage, offset: page.offset });
  return { data: rows.map(toMemberView), total };
}

export async function getOrgMember(sql: Sql, auth: AuthContext, id: string): Promise<MemberView> {
  assertMayManageMembers(auth);
  const m = await findMember(sql, auth.org.id, id);
  if (!m) throw notFound(id);
  return toMemberView(m);
}

/** Adds a member and records `team.member_added` in the same transaction. */
export async function addMember(
  sql: Sql,
  auth: AuthContext,
  input: AddMemberInput,
  now: Date,
): Promise<MemberView> {
  assertMayManageMembers(auth);
  assertMayChange(auth, input, true);
  try {
    const member = (await sql.begin(async (tx) => {
      const m = await insertMember(tx, {
        id: newId('member'),
        orgId: auth.org.id,
        email: input.email,
        name: input.name ?? null,
        role: input.role,
      });
      await insertEvent(tx, {
        id: newId('event'),
        orgId: auth.org.id,
        type: 'team.member_added',
        payload: memberEventData(m, auth.key.id),
        createdAt: now,
      });
      return m;
    })) as MemberRow;
    return toMemberView(member);
  } catch (err) {
    if (isUniqueViolation(err)) {
      throw new AppError('CONFLICT', `A member with email '${input.email}' already exists`, {
        details: [{ field: 'email', message: 'already a member of this organization' }],
      });
    }
    throw err;
  }
}

function assertNotSelf(auth: AuthContext, id: string, action: string): void {
  if (id === auth.member.id) {
    throw new AppError(
      'INVALID_STATE',
      `Cannot ${action} the member that owns the API key making this request`,
    );
  }
}

/**
 * Removes a member: its keys are revoked (they would otherwise outlive it) and
 * `team.member_removed` is recorded, in one transaction. The organization owner cannot be removed.
 */
export async function removeMember(sql: Sql, auth: AuthContext, id: string, now: Date): Promise<MemberView> {
  assertMayManageMembers(auth);
  const current = await findMember(sql, auth.org.id, id);
  if (!current) throw notFound(id);
  assertNotSelf(auth, id, 'remove');
  if (current.role === 'owner')
    throw new AppError('INVALID_STATE', 'The organization owner cannot be removed');
  assertMayChange(auth, current);
  const removed = (await sql.begin(async (tx) => {
    const m = await markMemberRemoved(tx, auth.org.id, id, now);
    if (!m) return undefined;
    await revokeKeysOwnedBy(tx, m.id, now);
    await insertEvent(tx, {
      id: newId('event'),
      orgId: auth.org.id,
      type: 'team.member_removed',
      payload: memberEventData(m, auth.key.id),
      createdAt: now,
    });
    return m;
  })) as MemberRow | undefined;
  if (!removed) throw notFound(id);
  return toMemberView(removed);
}

/**
 * Suspending takes effect at once: every key the member owns fails with `API key owner is suspended`.
 * Only the operator API lifts the owner's suspension (nobody in the organization outranks the owner).
 */
export async function setSuspended(
  sql: Sql,
  auth: AuthContext,
  id: string,
  suspended: boolean,
  now: Date,
): Promise<MemberView> {
  assertMayManageMembers(auth);
  if (suspended) assertNotSelf(auth, id, 'suspend');
  const current = await findMember(sql, auth.org.id, id);
  if (!current) throw notFound(id);
  // the calling key works, so its owner is not suspended: nothing to lift
  if (!suspended && id === auth.member.id) return toMemberView(current);
  assertMayChange(auth, current);
  // repeating the call keeps the original suspension time
  if (Boolean(current.suspendedAt) === suspended) return toMemberView(current);
  const m = await setMemberSuspended(sql, auth.org.id, id, suspended ? now : null);
  if (!m) throw notFound(id);
  return toMemberView(m);
}
