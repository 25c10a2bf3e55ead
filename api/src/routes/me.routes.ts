import type { Sql } from '@promptmill/infra/db';
import { Router } from 'express';
import { z } from 'zod';
import { getAuth } from '../auth/auth-context.ts';
import { describeCaller, meSchema } from '../domain/me.ts';
import type { Clock } from '../limits/clock.ts';
import { documentRoute } from '../openapi/registry.ts';

documentRoute({
  method: 'get',
  path: '/v1/me',
  summary: 'The calling key, its organization and plan, its limits and its usage this period',
  tag: 'Keys',
  responses: {
    200: {
      description: 'Also answered for Free-plan organizations',
      schema: z.object({ data: meSchema.meta({ id: 'Me' }) }),
    },
  },
});

export function meRoutes(deps: { sql: Sql; clock: Clock }): Router {
  const router = Router();
  router.get('/me', async (_req, res) => {
    res.json({ data: await describeCaller(deps.sql, getAuth(res), deps.clock()) });
  });
  return router;
}
