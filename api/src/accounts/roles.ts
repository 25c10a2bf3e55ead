import type { MemberRole } from '@promptmill/infra/db';

/**
 * Member roles, strongest first. A key acts with its owner member's role: it may add members up to
 * that role, and suspend, unsuspend or remove members — or manage keys of members — only of a lower
 * role. Nothing in /v1 outranks the owner: only the operator API changes the owner's access.
 */
const RANK: Record<MemberRole, number> = { owner: 3, admin: 2, member: 1 };

export function outranks(actor: MemberRole, target: MemberRole): boolean {
  return RANK[actor] > RANK[target];
}

export function isAtMost(role: MemberRole, bound: MemberRole): boolean {
  return RANK[role] <= RANK[bound];
}
