import type { Sql } from '@promptmill/infra/db';
import { Router } from 'express';
import { z } from 'zod';
import { getAuth } from '../auth/auth-context.ts';
import { requireScope } from '../auth/scopes.ts';
import {
  addMember,
  addMemberSchema,
  getOrgMember,
  listOrgMembers,
  memberViewSchema,
  removeMember,
  setSuspended,
} from '../domain/members.ts';
import { listBody, paginationQuerySchema, toPage } from '../http/pagination.ts';
import type { Clock } from '../limits/clock.ts';
import { documentRoute, paginationMetaSchema } from '../openapi/registry.ts';

const memberIdParamsSchema = z.object({ id: z.string().min(1).max(100) });
const memberBody = z.object({ data: memberViewSchema.meta({ id: 'Member' }) });
const SELF_409 = {
  description: "INVALID_STATE: the member owns the calling key, or is the organization's owner",
};

documentRoute({
  method: 'get',
  path: '/v1/members',
  summary: 'List team members',
  tag: 'Members',
  scope: 'admin',
  query: paginationQuerySchema,
  responses: {
    200: {
      description: 'A page of members, oldest first',
      schema: z.object({ data: z.array(memberViewSchema), meta: paginationMetaSchema }),
    },
  },
});

documentRoute({
  method: 'get',
  path: '/v1/members/:id',
  summary: 'A team member',
  tag: 'Members',
  scope: 'admin',
  params: memberIdParamsSchema,
  responses: {
    200: { description: 'The member', schema: memberBody },
    404: { description: 'MEMBER_NOT_FOUND' },
  },
});

documentRoute({
  method: 'post',
  path: '/v1/members',
  summary: 'Add a team member (emits team.member_added)',
  tag: 'Members',
  scope: 'admin',
  body: addMemberSchema,
  responses: {
    201: { description: 'The new member', schema: memberBody },
    409: { description: 'CONFLICT: a member with this email exists' },
  },
});

documentRoute({
  method: 'delete',
  path: '/v1/members/:id',
  summary: 'Remove a team member: its keys are revoked (emits team.member_removed)',
  tag: 'Members',
  scope: 'admin',
  params: memberIdParamsSchema,
  responses: {
    200: { description: 'The removed member', schema: memberBody },
    404: { description: 'MEMBER_NOT_FOUND' },
    409: SELF_409,
  },
});

documentRoute({
  method: 'post',
  path: '/v1/members/:id/suspend',
  summary: "Suspend a member: its keys answer 401 'API key owner is suspended' until unsuspended",
  tag: 'Members',
  scope: 'admin',
  params: memberIdParamsSchema,
  responses: {
    200: {
      description: 'The member (repeating the call keeps the first suspension time)',
      schema: memberBody,
    },
    404: { description: 'MEMBER_NOT_FOUND' },
    409: { description: 'INVALID_STATE: the member owns the calling key' },
  },
});

documentRoute({
  method: 'post',
  path: '/v1/members/:id/unsuspend',
  summary: 'Lift a suspension',
  tag: 'Members',
  scope: 'admin',
  params: memberIdParamsSchema,
  responses: {
    200: { description: 'The member', schema: memberBody },
    404: { description: 'MEMBER_NOT_FOUND' },
  },
});

export function memberRoutes(deps: { sql: Sql; clock: Clock }): Router {
  const router = Router();
  const admin = requireScope('admin');

  router.get('/members', admin, async (req, res) => {
    const page = toPage(paginationQuerySchema.parse(req.query));
    const { data, total } = await listOrgMembers(deps.sql, getAuth(res), page);
    res.json(listBody(data, page, total));
  });

  router.get('/members/:id', admin, async (req, res) => {
    const { id } = memberIdParamsSchema.parse(req.params);
    res.json({ data: await getOrgMember(deps.sql, getAuth(res), id) });
  });

  router.post('/members', admin, async (req, res) => {
    const input = addMemberSchema.parse(req.body ?? {});
    const member = await addMember(deps.sql, getAuth(res), input, deps.clock());
    res.status(201).location(`/v1/members/${member.id}`).json({ data: member });
  });

  router.delete('/members/:id', admin, async (req, res) => {
    const { id } = memberIdParamsSchema.parse(req.params);
    res.json({ data: await removeMember(deps.sql, getAuth(res), id, deps.clock()) });
  });

  router.post('/members/:id/suspend', admin, async (req, res) => {
    const { id } = memberIdParamsSchema.parse(req.params);
    res.json({ data: await setSuspended(deps.sql, getAuth(res), id, true, deps.clock()) });
  });

  router.post('/members/:id/unsuspend', admin, async (req, res) => {
    const { id } = memberIdParamsSchema.parse(req.params);
    res.json({ data: await setSuspended(deps.sql, getAuth(res), id, false, deps.clock()) });
  });

  return router;
}
