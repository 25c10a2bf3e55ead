import type { Sql } from '@promptmill/infra/db';
import { Router } from 'express';
import { z } from 'zod';
import { getAuth } from '../auth/auth-context.ts';
import { requireScope } from '../auth/scopes.ts';
import { promptSchema, versionSchema } from '../domain/prompts.ts';
import {
  getTemplate,
  listTemplates,
  listTemplatesQuerySchema,
  templateSchema,
  useTemplate,
  useTemplateBodySchema,
} from '../domain/template-library.ts';
import { sendCacheable } from '../http/etag.ts';
import { paginationQuerySchema, toPage } from '../http/pagination.ts';
import { documentRoute, paginationMetaSchema } from '../openapi/registry.ts';

const templateParams = z.object({ id: z.string().min(1).meta({ example: 'tpl_summarize' }) });
const listQuery = paginationQuerySchema.extend(listTemplatesQuerySchema.shape);
const TAG = 'Templates';

documentRoute({
  method: 'get',
  path: '/v1/templates',
  summary: 'List the built-in template library (summarize, translate, classify, extract JSON…)',
  tag: TAG,
  scope: 'prompts:read',
  query: listQuery,
  responses: {
    200: {
      description: 'Templates; ETag and 304 as for prompts',
      schema: z.object({ data: z.array(templateSchema), meta: paginationMetaSchema }),
    },
    304: { description: 'Not modified' },
  },
});
documentRoute({
  method: 'get',
  path: '/v1/templates/:id',
  summary: 'Get one template, with an example of its variables',
  tag: TAG,
  scope: 'prompts:read',
  params: templateParams,
  responses: {
    200: { description: 'The template', schema: z.object({ data: templateSchema }) },
    304: { description: 'Not modified' },
    404: { description: 'TEMPLATE_NOT_FOUND' },
  },
});
documentRoute({
  method: 'post',
  path: '/v1/templates/:id/use',
  summary: 'Create a prompt from a template: version 1, labelled production',
  tag: TAG,
  scope: 'prompts:write',
  params: templateParams,
  body: useTemplateBodySchema,
  responses: {
    201: {
      description: 'The new prompt and its first version',
      schema: z.object({ data: z.object({ prompt: promptSchema, version: versionSchema }) }),
    },
    404: { description: 'TEMPLATE_NOT_FOUND' },
    409: { description: 'CONFLICT: the name is taken' },
  },
});

export function templateRoutes(deps: { sql: Sql }): Router {
  const router = Router();

  router.get('/templates', requireScope('prompts:read'), (req, res) => {
    const query = listQuery.parse(req.query);
    sendCacheable(req, res, listTemplates(query, toPage(query)));
  });

  router.get('/templates/:id', requireScope('prompts:read'), (req, res) => {
    const { id } = templateParams.parse(req.params);
    sendCacheable(req, res, { data: getTemplate(id) });
  });

  router.post('/templates/:id/use', requireScope('prompts:write'), async (req, res) => {
    const { id } = templateParams.parse(req.params);
    const body = useTemplateBodySchema.parse(req.body ?? {});
    const created = await useTemplate(deps.sql, getAuth(res), id, body);
    res.status(201).location(`/v1/prompts/${created.prompt.id}`).json({ data: created });
  });

  return router;
}
