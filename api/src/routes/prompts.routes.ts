import type { Sql } from '@promptmill/infra/db';
import { Router } from 'express';
import { z } from 'zod';
import { getAuth } from '../auth/auth-context.ts';
import {
  createPrompt,
  createPromptSchema,
  createVersion,
  createVersionSchema,
  getPrompt,
  moveLabel,
} from '../domain/prompts.ts';

const labelBodySchema = z.object({ version: z.number().int().min(1) }).strict();

export function promptRoutes(deps: { sql: Sql }): Router {
  const router = Router();

  router.post('/prompts', async (req, res) => {
    const input = createPromptSchema.parse(req.body ?? {});
    const prompt = await createPrompt(deps.sql, getAuth(res).orgId, input);
    res.status(201).location(`/v1/prompts/${prompt.id}`).json({ data: prompt });
  });

  router.get('/prompts/:idOrName', async (req, res) => {
    res.json({ data: await getPrompt(deps.sql, getAuth(res).orgId, req.params.idOrName) });
  });

  router.post('/prompts/:idOrName/versions', async (req, res) => {
    const input = createVersionSchema.parse(req.body ?? {});
    const version = await createVersion(deps.sql, getAuth(res).orgId, req.params.idOrName, input);
    res.status(201).json({ data: version });
  });

  router.put('/prompts/:idOrName/labels/:label', async (req, res) => {
    const { version } = labelBodySchema.parse(req.body ?? {});
    res.json({
      data: await moveLabel(deps.sql, getAuth(res).orgId, req.params.idOrName, req.params.label, version),
    });
  });

  return router;
}
