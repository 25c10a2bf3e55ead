import { newId } from '@promptmill/infra';
import {
  findMember,
  findOrgOwner,
  insertKey,
  type KeyRow,
  type MemberRow,
  type Sql,
  setMemberSuspended,
} from '@promptmill/infra/db';
import { z } from 'zod';
import { generateApiKey } from '../auth/api-key.ts';
import { AppError } from '../http/app-error.ts';
import { getOrg } from './orgs.ts';

// The operator's way back in when an organization has locked itself out (its owner suspended, the
// owner's keys revoked): nothing inside the organization outranks the owner, so only /admin/v1 can.

export const mintOwnerKeySchema = z
  .object({ name: z.string().trim().min(1).max(200).default('Recovery key') })
  .strict();

/** A new admin key (all scopes, no restriction) owned by the organization's owner; its secret is returned once. */
export async function mintOwnerKey(
  sql: Sql,
  orgId: string,
  input: z.infer<typeof mintOwnerKeySchema>,
): Promise<KeyRow & { key: string }> {
  await getOrg(sql, orgId);
  const owner = await findOrgOwner(sql, orgId);
  if (!owner) throw new AppError('MEMBER_NOT_FOUND', `Organization '${orgId}' has no owner`);
  if (owner.suspendedAt) {
    throw new AppError(
      'INVALID_STATE',
      `The owner '${owner.id}' is suspended, so a key of theirs would not work: unsuspend them first`,
    );
  }
  const generated = generateApiKey();
  const key = await insertKey(sql, {
    id: newId('key'),
    orgId,
    ownerMemberId: owner.id,
    name: input.name,
    hash: generated.hash,
    summary: generated.summary,
    scopes: ['admin'],
    promptIds: null,
    rateLimits: {},
    allowedOrigins: null,
    expiresAt: null,
  });
  return { ...key, key: generated.plaintext };
}

/** Lifts any member's suspension, the owner's included. Idempotent. */
export async function unsuspendOrgMember(sql: Sql, orgId: string, memberId: string): Promise<MemberRow> {
  await getOrg(sql, orgId);
  const member = await findMember(sql, orgId, memberId);
  if (!member) throw new AppError('MEMBER_NOT_FOUND', `Member '${memberId}' not found`);
  if (!member.suspendedAt) return member;
  const lifted = await setMemberSuspended(sql, orgId, memberId, null);
  if (!lifted) throw new AppError('MEMBER_NOT_FOUND', `Member '${memberId}' not found`);
  return lifted;
}
