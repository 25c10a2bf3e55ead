import { timingSafeEqual } from 'node:crypto';
import type { Sql } from '@promptmill/infra/db';
import { type RequestHandler, Router } from 'express';
import { createOrgSchema, createOrgWithFirstKey, getOrg, patchOrg, patchOrgSchema } from '../domain/orgs.ts';
import { AppError } from '../http/app-error.ts';

function constantTimeEquals(a: string, b: string): boolean {
  const left = Buffer.from(a);
  const right = Buffer.from(b);
  return left.length === right.length && timingSafeEqual(left, right);
}

function requireAdminToken(adminToken: string | undefined): RequestHandler {
  return (req, _res, next) => {
    const match = /^Bearer (.+)$/.exec(req.get('authorization') ?? '');
    if (!adminToken || !match?.[1] || !constantTimeEquals(match[1], adminToken)) {
      throw new AppError('UNAUTHORIZED', 'Invalid admin token');
    }
    next();
  };
}

export function adminRoutes(deps: { sql: Sql; adminToken: string | undefined }): Router {
  const router = Router();
  router.use(requireAdminToken(deps.adminToken));

  router.post('/orgs', async (req, res) => {
    const input = createOrgSchema.parse(req.body ?? {});
    const created = await createOrgWithFirstKey(deps.sql, input);
    res.status(201).json({ data: created });
  });

  router.get('/orgs/:id', async (req, res) => {
    res.json({ data: await getOrg(deps.sql, req.params.id) });
  });

  router.patch('/orgs/:id', async (req, res) => {
    const input = patchOrgSchema.parse(req.body ?? {});
    res.json({ data: await patchOrg(deps.sql, req.params.id, input) });
  });

  return router;
}
