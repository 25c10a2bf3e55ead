import { z } from 'zod';
import { defineRoute, type RouteDef } from '../http/define-route.ts';
import { sendCacheable } from '../http/etag.ts';
import { many, one } from '../http/openapi.ts';
import { paginationQuerySchema, toPage } from '../http/pagination.ts';
import type { PromptDeps } from './deps.ts';
import { promptSchema, versionSchema } from './prompts.schemas.ts';
import {
  getTemplate,
  listTemplates,
  listTemplatesQuerySchema,
  templateSchema,
  useTemplate,
  useTemplateBodySchema,
} from './template-library.ts';

const params = z.object({ id: z.string().min(1).meta({ example: 'tpl_summarize' }) });
const listQuery = paginationQuerySchema.extend(listTemplatesQuerySchema.shape);
const TAG = 'Templates';

export function templateRoutes({ sql }: PromptDeps): RouteDef[] {
  return [
    defineRoute({
      method: 'get',
      path: '/v1/templates',
      summary: 'List the built-in template library (summarize, translate, classify, extract JSON…)',
      tag: TAG,
      scope: 'prompts:read',
      query: listQuery,
      responses: {
        200: { description: 'Templates; ETag and 304 as for prompts', schema: many(templateSchema) },
        304: { description: 'Not modified' },
      },
      handler: ({ req, res, query }) => {
        sendCacheable(req, res, listTemplates(query, toPage(query)));
      },
    }),
    defineRoute({
      method: 'get',
      path: '/v1/templates/:id',
      summary: 'Get one template, with an example of its variables',
      tag: TAG,
      scope: 'prompts:read',
      params,
      responses: {
        200: { description: 'The template', schema: one(templateSchema) },
        304: { description: 'Not modified' },
        404: { description: 'TEMPLATE_NOT_FOUND' },
      },
      handler: ({ req, res, params: { id } }) => {
        sendCacheable(req, res, { data: getTemplate(id) });
      },
    }),
    defineRoute({
      method: 'post',
      path: '/v1/templates/:id/use',
      summary: 'Create a prompt from a template: version 1, labelled production',
      tag: TAG,
      scope: 'prompts:write',
      params,
      body: useTemplateBodySchema,
      responses: {
        201: {
          description: 'The new prompt and its first version',
          schema: one(z.object({ prompt: promptSchema, version: versionSchema })),
        },
        404: { description: 'TEMPLATE_NOT_FOUND' },
        409: { description: 'CONFLICT: the name is taken' },
      },
      handler: async ({ res, params: { id }, body, auth }) => {
        const created = await useTemplate(sql, auth, id, body);
        res.status(201).location(`/v1/prompts/${created.prompt.id}`).json({ data: created });
      },
    }),
  ];
}
