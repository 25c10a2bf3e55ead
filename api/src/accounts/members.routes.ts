import { z } from 'zod';
import { defineRoute, type RouteDef } from '../http/define-route.ts';
import { many, one } from '../http/openapi.ts';
import { listBody, paginationQuerySchema, toPage } from '../http/pagination.ts';
import type { AccountDeps } from './deps.ts';
import {
  addMember,
  addMemberSchema,
  getOrgMember,
  listOrgMembers,
  memberViewSchema,
  removeMember,
  setSuspended,
} from './members.ts';

const params = z.object({ id: z.string().min(1).max(100) });
const memberBody = one(memberViewSchema.meta({ id: 'Member' }));
const SELF_409 = {
  description: "INVALID_STATE: the member owns the calling key, or is the organization's owner",
};
const RIGHTS_403 = {
  description:
    "FORBIDDEN: the key lacks `admin`, is restricted to some prompts, presents a secret replaced by a rotation, or its owner's role is not above the member's (owner > admin > member; the owner's access changes only through the operator API)",
};
const TAG = 'Members';
const scope = 'admin';

export function memberRoutes({ sql, clock, authChanged }: AccountDeps): RouteDef[] {
  return [
    defineRoute({
      method: 'get',
      path: '/v1/members',
      summary: 'List team members',
      tag: TAG,
      scope,
      query: paginationQuerySchema,
      responses: {
        200: { description: 'A page of members, oldest first', schema: many(memberViewSchema) },
        403: RIGHTS_403,
      },
      handler: async ({ res, query, auth }) => {
        const page = toPage(query);
        const { data, total } = await listOrgMembers(sql, auth, page);
        res.json(listBody(data, page, total));
      },
    }),
    defineRoute({
      method: 'get',
      path: '/v1/members/:id',
      summary: 'A team member',
      tag: TAG,
      scope,
      params,
      responses: {
        200: { description: 'The member', schema: memberBody },
        403: RIGHTS_403,
        404: { description: 'MEMBER_NOT_FOUND' },
      },
      handler: async ({ res, params: { id }, auth }) => {
        res.json({ data: await getOrgMember(sql, auth, id) });
      },
    }),
    defineRoute({
      method: 'post',
      path: '/v1/members',
      summary: 'Add a team member (emits team.member_added)',
      tag: TAG,
      scope,
      body: addMemberSchema,
      responses: {
        201: { description: 'The new member', schema: memberBody },
        403: RIGHTS_403,
        409: { description: 'CONFLICT: a member with this email exists' },
      },
      handler: async ({ res, body, auth }) => {
        const member = await addMember(sql, auth, body, clock());
        res.status(201).location(`/v1/members/${member.id}`).json({ data: member });
      },
    }),
    defineRoute({
      method: 'delete',
      path: '/v1/members/:id',
      summary: 'Remove a team member: its keys are revoked (emits team.member_removed)',
      tag: TAG,
      scope,
      params,
      responses: {
        200: { description: 'The removed member', schema: memberBody },
        403: RIGHTS_403,
        404: { description: 'MEMBER_NOT_FOUND' },
        409: SELF_409,
      },
      handler: async ({ res, params: { id }, auth }) => {
        const member = await removeMember(sql, auth, id, clock());
        await authChanged({ kind: 'member', id });
        res.json({ data: member });
      },
    }),
    defineRoute({
      method: 'post',
      path: '/v1/members/:id/suspend',
      summary: "Suspend a member: its keys answer 401 'API key owner is suspended' until unsuspended",
      tag: TAG,
      scope,
      params,
      responses: {
        200: {
          description: 'The member (repeating the call keeps the first suspension time)',
          schema: memberBody,
        },
        403: RIGHTS_403,
        404: { description: 'MEMBER_NOT_FOUND' },
        409: { description: 'INVALID_STATE: the member owns the calling key' },
      },
      handler: async ({ res, params: { id }, auth }) => {
        const member = await setSuspended(sql, auth, id, true, clock());
        await authChanged({ kind: 'member', id });
        res.json({ data: member });
      },
    }),
    defineRoute({
      method: 'post',
      path: '/v1/members/:id/unsuspend',
      summary: 'Lift a suspension',
      tag: TAG,
      scope,
      params,
      responses: {
        200: { description: 'The member', schema: memberBody },
        403: RIGHTS_403,
        404: { description: 'MEMBER_NOT_FOUND' },
      },
      handler: async ({ res, params: { id }, auth }) => {
        const member = await setSuspended(sql, auth, id, false, clock());
        await authChanged({ kind: 'member', id });
        res.json({ data: member });
      },
    }),
  ];
}
