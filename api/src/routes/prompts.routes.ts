import type { Sql } from '@promptmill/infra/db';
import { Router } from 'express';
import { z } from 'zod';
import { getAuth } from '../auth/auth-context.ts';
import { requireScope } from '../auth/scopes.ts';
import {
  createPrompt,
  createPromptSchema,
  createVersion,
  createVersionSchema,
  deletePrompt,
  getPromptDetails,
  getVersion,
  labelSchema,
  labelSchemaOut,
  listPromptLabels,
  listPrompts,
  listPromptsQuerySchema,
  listVersions,
  moveLabel,
  moveLabelBodySchema,
  patchPrompt,
  patchPromptSchema,
  promptSchema,
  removeLabel,
  renderBodySchema,
  renderPrompt,
  renderResultSchema,
  versionSchema,
} from '../domain/prompts.ts';
import { AppError } from '../http/app-error.ts';
import { sendCacheable } from '../http/etag.ts';
import { paginationQuerySchema, toPage } from '../http/pagination.ts';
import { documentRoute, paginationMetaSchema } from '../openapi/registry.ts';

const promptParams = z.object({
  idOrName: z.string().min(1).meta({ description: 'A prompt id (pmt_…) or its name' }),
});
const versionParams = promptParams.extend({
  n: z.coerce.number().int().min(1).meta({ description: 'Version number (1, 2, 3…)' }),
});
const labelParams = promptParams.extend({ label: labelSchema });
const listQuery = paginationQuerySchema.extend(listPromptsQuerySchema.shape);

const one = <T extends z.ZodType>(schema: T) => z.object({ data: schema });
const many = <T extends z.ZodType>(schema: T) =>
  z.object({ data: z.array(schema), meta: paginationMetaSchema });
const labelMoved = z.object({ label: z.string(), version: z.number().int(), versionId: z.string() });

const CACHED =
  'Carries ETag, `Cache-Control: private, max-age=0, must-revalidate` and `Vary: Authorization`; 304 on a matching If-None-Match';
const TAG = 'Prompts';
const READ = 'prompts:read';
const WRITE = 'prompts:write';

documentRoute({
  method: 'post',
  path: '/v1/prompts',
  summary: 'Create a prompt (name unique in the organization)',
  tag: TAG,
  scope: WRITE,
  body: createPromptSchema,
  responses: {
    201: { description: 'Created; Location points at it', schema: one(promptSchema) },
    400: { description: 'VALIDATION_ERROR' },
    403: { description: 'FORBIDDEN: the key lacks the scope, or is restricted to specific prompts' },
    409: { description: 'CONFLICT: the name is taken' },
  },
});
documentRoute({
  method: 'get',
  path: '/v1/prompts',
  summary: 'List prompts, newest first (a prompt-restricted key sees only its prompts)',
  tag: TAG,
  scope: READ,
  query: listQuery,
  responses: {
    200: { description: CACHED, schema: many(promptSchema) },
    304: { description: 'Not modified' },
    400: { description: 'VALIDATION_ERROR (e.g. per_page above 100)' },
  },
});
documentRoute({
  method: 'get',
  path: '/v1/prompts/:idOrName',
  summary: 'Get a prompt by id or name, with the version each label points at',
  tag: TAG,
  scope: READ,
  params: promptParams,
  responses: {
    200: { description: CACHED, schema: one(promptSchema) },
    304: { description: 'Not modified' },
    403: { description: 'FORBIDDEN: a restricted key asked for another prompt' },
    404: { description: 'PROMPT_NOT_FOUND (also for other organizations’ prompts)' },
  },
});
documentRoute({
  method: 'patch',
  path: '/v1/prompts/:idOrName',
  summary: 'Rename a prompt or change its description or tags',
  tag: TAG,
  scope: WRITE,
  params: promptParams,
  body: patchPromptSchema,
  responses: {
    200: { description: 'The updated prompt', schema: one(promptSchema) },
    404: { description: 'PROMPT_NOT_FOUND' },
    409: { description: 'CONFLICT: the new name is taken' },
  },
});
documentRoute({
  method: 'delete',
  path: '/v1/prompts/:idOrName',
  summary: 'Delete a prompt (soft: its runs stay readable, its name becomes free)',
  tag: TAG,
  scope: WRITE,
  params: promptParams,
  responses: { 204: { description: 'Deleted' }, 404: { description: 'PROMPT_NOT_FOUND' } },
});
documentRoute({
  method: 'post',
  path: '/v1/prompts/:idOrName/versions',
  summary: 'Create the next immutable version (numbered 1, 2, 3…)',
  tag: TAG,
  scope: WRITE,
  params: promptParams,
  body: createVersionSchema,
  responses: {
    201: { description: 'Created; Location points at it', schema: one(versionSchema) },
    400: {
      description:
        'VALIDATION_ERROR (field details; a template variable missing from an explicit contract), INVALID_TEMPLATE (with line and column)',
    },
    404: { description: 'PROMPT_NOT_FOUND' },
  },
});
documentRoute({
  method: 'get',
  path: '/v1/prompts/:idOrName/versions',
  summary: 'List versions, newest first',
  tag: TAG,
  scope: READ,
  params: promptParams,
  query: paginationQuerySchema,
  responses: {
    200: { description: CACHED, schema: many(versionSchema) },
    304: { description: 'Not modified' },
    404: { description: 'PROMPT_NOT_FOUND' },
  },
});
documentRoute({
  method: 'get',
  path: '/v1/prompts/:idOrName/versions/:n',
  summary: 'Get one version (versions never change: there is no route to edit or delete one)',
  tag: TAG,
  scope: READ,
  params: versionParams,
  responses: {
    200: { description: CACHED, schema: one(versionSchema) },
    304: { description: 'Not modified' },
    404: { description: 'PROMPT_NOT_FOUND or VERSION_NOT_FOUND' },
    405: { description: 'METHOD_NOT_ALLOWED for PUT, PATCH and DELETE: versions are immutable' },
  },
});
documentRoute({
  method: 'get',
  path: '/v1/prompts/:idOrName/labels',
  summary: 'List the labels of a prompt and the version each points at',
  tag: TAG,
  scope: READ,
  params: promptParams,
  query: paginationQuerySchema,
  responses: {
    200: { description: CACHED, schema: many(labelSchemaOut) },
    304: { description: 'Not modified' },
    404: { description: 'PROMPT_NOT_FOUND' },
  },
});
documentRoute({
  method: 'put',
  path: '/v1/prompts/:idOrName/labels/:label',
  summary: 'Point a label (production, staging or any name) at a version, atomically',
  tag: TAG,
  scope: WRITE,
  params: labelParams,
  body: moveLabelBodySchema,
  responses: {
    200: { description: 'The label and its version', schema: one(labelMoved) },
    400: { description: 'VALIDATION_ERROR (label name or version)' },
    404: { description: 'PROMPT_NOT_FOUND or VERSION_NOT_FOUND' },
  },
});
documentRoute({
  method: 'delete',
  path: '/v1/prompts/:idOrName/labels/:label',
  summary: 'Remove a label',
  tag: TAG,
  scope: WRITE,
  params: labelParams,
  responses: { 204: { description: 'Removed' }, 404: { description: 'PROMPT_NOT_FOUND or LABEL_NOT_FOUND' } },
});
documentRoute({
  method: 'post',
  path: '/v1/prompts/:idOrName/render',
  summary: 'Resolve a version (number, label, or production) and render it, without calling a model',
  tag: TAG,
  scope: READ,
  params: promptParams,
  body: renderBodySchema,
  responses: {
    200: {
      description: 'content (text versions) or messages (chat versions)',
      schema: one(renderResultSchema),
    },
    400: { description: 'MISSING_VARIABLES / UNKNOWN_VARIABLES naming every variable; VALIDATION_ERROR' },
    404: {
      description:
        'PROMPT_NOT_FOUND (no production version: "Prompt \'<name>\' not found or has no PRODUCTION version") or VERSION_NOT_FOUND',
    },
  },
});

export function promptRoutes(deps: { sql: Sql }): Router {
  const { sql } = deps;
  const router = Router();
  const read = requireScope(READ);
  const write = requireScope(WRITE);

  router.post('/prompts', write, async (req, res) => {
    const input = createPromptSchema.parse(req.body ?? {});
    const prompt = await createPrompt(sql, getAuth(res), input);
    res.status(201).location(`/v1/prompts/${prompt.id}`).json({ data: prompt });
  });

  router.get('/prompts', read, async (req, res) => {
    const query = listQuery.parse(req.query);
    sendCacheable(req, res, await listPrompts(sql, getAuth(res), query, toPage(query)));
  });

  router.get('/prompts/:idOrName', read, async (req, res) => {
    const { idOrName } = promptParams.parse(req.params);
    sendCacheable(req, res, { data: await getPromptDetails(sql, getAuth(res), idOrName) });
  });

  router.patch('/prompts/:idOrName', write, async (req, res) => {
    const { idOrName } = promptParams.parse(req.params);
    const patch = patchPromptSchema.parse(req.body ?? {});
    res.json({ data: await patchPrompt(sql, getAuth(res), idOrName, patch) });
  });

  router.delete('/prompts/:idOrName', write, async (req, res) => {
    const { idOrName } = promptParams.parse(req.params);
    await deletePrompt(sql, getAuth(res), idOrName);
    res.status(204).end();
  });

  router.post('/prompts/:idOrName/versions', write, async (req, res) => {
    const { idOrName } = promptParams.parse(req.params);
    const input = createVersionSchema.parse(req.body ?? {});
    const version = await createVersion(sql, getAuth(res), idOrName, input);
    res
      .status(201)
      .location(`/v1/prompts/${version.promptId}/versions/${version.version}`)
      .json({ data: version });
  });

  router.get('/prompts/:idOrName/versions', read, async (req, res) => {
    const { idOrName } = promptParams.parse(req.params);
    const page = toPage(paginationQuerySchema.parse(req.query));
    sendCacheable(req, res, await listVersions(sql, getAuth(res), idOrName, page));
  });

  router.get('/prompts/:idOrName/versions/:n', read, async (req, res) => {
    const { idOrName, n } = versionParams.parse(req.params);
    sendCacheable(req, res, { data: await getVersion(sql, getAuth(res), idOrName, n) });
  });

  // Versions are immutable: say so instead of a bare "no route".
  router.all('/prompts/:idOrName/versions/:n', (req) => {
    throw new AppError(
      'METHOD_NOT_ALLOWED',
      `Versions are immutable: ${req.method} is not allowed; create a new version and move a label instead`,
      { headers: { Allow: 'GET, HEAD' } },
    );
  });

  router.get('/prompts/:idOrName/labels', read, async (req, res) => {
    const { idOrName } = promptParams.parse(req.params);
    const page = toPage(paginationQuerySchema.parse(req.query));
    sendCacheable(req, res, await listPromptLabels(sql, getAuth(res), idOrName, page));
  });

  router.put('/prompts/:idOrName/labels/:label', write, async (req, res) => {
    const { idOrName, label } = labelParams.parse(req.params);
    const { version } = moveLabelBodySchema.parse(req.body ?? {});
    res.json({ data: await moveLabel(sql, getAuth(res), idOrName, label, version) });
  });

  router.delete('/prompts/:idOrName/labels/:label', write, async (req, res) => {
    const { idOrName, label } = labelParams.parse(req.params);
    await removeLabel(sql, getAuth(res), idOrName, label);
    res.status(204).end();
  });

  router.post('/prompts/:idOrName/render', read, async (req, res) => {
    const { idOrName } = promptParams.parse(req.params);
    const body = renderBodySchema.parse(req.body ?? {});
    res.json({ data: await renderPrompt(sql, getAuth(res), idOrName, body) });
  });

  return router;
}
