import { z } from 'zod';
import { AppError } from '../http/app-error.ts';
import { defineRoute, type RouteDef, rejectMethods } from '../http/define-route.ts';
import { sendCacheable } from '../http/etag.ts';
import { many, one } from '../http/openapi.ts';
import { paginationQuerySchema, toPage } from '../http/pagination.ts';
import { positiveInt32Param } from '../http/zod-primitives.ts';
import type { PromptDeps } from './deps.ts';
import { listPromptLabels, moveLabel, removeLabel } from './labels.ts';
import {
  createPromptSchema,
  createVersionSchema,
  labelSchema,
  labelSchemaOut,
  listPromptsQuerySchema,
  moveLabelBodySchema,
  patchPromptSchema,
  promptSchema,
  renderBodySchema,
  renderResultSchema,
  versionSchema,
} from './prompts.schemas.ts';
import { createPrompt, deletePrompt, getPromptDetails, listPrompts, patchPrompt } from './prompts.ts';
import { renderPrompt } from './render.ts';
import { createVersion, getVersion, listVersions } from './versions.ts';

const promptParams = z.object({
  idOrName: z.string().min(1).meta({ description: 'A prompt id (pmt_…) or its name' }),
});
const versionParams = promptParams.extend({
  n: positiveInt32Param().meta({ description: 'Version number (1, 2, 3…)' }),
});
const labelParams = promptParams.extend({ label: labelSchema });
const listQuery = paginationQuerySchema.extend(listPromptsQuerySchema.shape);
const labelMoved = z.object({ label: z.string(), version: z.number().int(), versionId: z.string() });

const CACHED =
  'Carries ETag, `Cache-Control: private, max-age=0, must-revalidate` and `Vary: Authorization, x-api-key`; 304 on a matching If-None-Match';
const TAG = 'Prompts';
const READ = 'prompts:read';
const WRITE = 'prompts:write';

export function promptRoutes({ sql }: PromptDeps): RouteDef[] {
  return [
    defineRoute({
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
      handler: async ({ res, body, auth }) => {
        const prompt = await createPrompt(sql, auth, body);
        res.status(201).location(`/v1/prompts/${prompt.id}`).json({ data: prompt });
      },
    }),
    defineRoute({
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
      handler: async ({ req, res, query, auth }) => {
        sendCacheable(req, res, await listPrompts(sql, auth, query, toPage(query)));
      },
    }),
    defineRoute({
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
      handler: async ({ req, res, params, auth }) => {
        sendCacheable(req, res, { data: await getPromptDetails(sql, auth, params.idOrName) });
      },
    }),
    defineRoute({
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
      handler: async ({ res, params, body, auth }) => {
        res.json({ data: await patchPrompt(sql, auth, params.idOrName, body) });
      },
    }),
    defineRoute({
      method: 'delete',
      path: '/v1/prompts/:idOrName',
      summary: 'Delete a prompt (soft: its runs stay readable, its name becomes free)',
      tag: TAG,
      scope: WRITE,
      params: promptParams,
      responses: { 204: { description: 'Deleted' }, 404: { description: 'PROMPT_NOT_FOUND' } },
      handler: async ({ res, params, auth }) => {
        await deletePrompt(sql, auth, params.idOrName);
        res.status(204).end();
      },
    }),
    defineRoute({
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
            'VALIDATION_ERROR (field details; a template variable missing from an explicit contract), INVALID_TEMPLATE (with line and column; also for `#if`/`#each` blocks nested more than 32 levels)',
        },
        404: { description: 'PROMPT_NOT_FOUND' },
      },
      handler: async ({ res, params, body, auth }) => {
        const version = await createVersion(sql, auth, params.idOrName, body);
        res
          .status(201)
          .location(`/v1/prompts/${version.promptId}/versions/${version.version}`)
          .json({ data: version });
      },
    }),
    defineRoute({
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
      handler: async ({ req, res, params, query, auth }) => {
        sendCacheable(req, res, await listVersions(sql, auth, params.idOrName, toPage(query)));
      },
    }),
    defineRoute({
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
        405: { description: 'METHOD_NOT_ALLOWED for POST, PUT, PATCH and DELETE: versions are immutable' },
      },
      handler: async ({ req, res, params, auth }) => {
        sendCacheable(req, res, { data: await getVersion(sql, auth, params.idOrName, params.n) });
      },
    }),
    ...rejectMethods(
      '/v1/prompts/:idOrName/versions/:n',
      ['post', 'put', 'patch', 'delete'],
      (req) =>
        new AppError(
          'METHOD_NOT_ALLOWED',
          `Versions are immutable: ${req.method} is not allowed; create a new version and move a label instead`,
          { headers: { Allow: 'GET, HEAD' } },
        ),
      'Versions are immutable: writes get 405 METHOD_NOT_ALLOWED (documented on GET)',
    ),
    defineRoute({
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
      handler: async ({ req, res, params, query, auth }) => {
        sendCacheable(req, res, await listPromptLabels(sql, auth, params.idOrName, toPage(query)));
      },
    }),
    defineRoute({
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
      handler: async ({ res, params, body, auth }) => {
        res.json({ data: await moveLabel(sql, auth, params.idOrName, params.label, body.version) });
      },
    }),
    defineRoute({
      method: 'delete',
      path: '/v1/prompts/:idOrName/labels/:label',
      summary: 'Remove a label',
      tag: TAG,
      scope: WRITE,
      params: labelParams,
      responses: {
        204: { description: 'Removed' },
        404: { description: 'PROMPT_NOT_FOUND or LABEL_NOT_FOUND' },
      },
      handler: async ({ res, params, auth }) => {
        await removeLabel(sql, auth, params.idOrName, params.label);
        res.status(204).end();
      },
    }),
    defineRoute({
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
        400: {
          description:
            'MISSING_VARIABLES / UNKNOWN_VARIABLES naming every variable; VALIDATION_ERROR; TEMPLATE_BUDGET_EXCEEDED (the render budget, details: reason, limit, tag)',
        },
        413: {
          description:
            'PROMPT_TOO_LARGE: the rendered prompt is over 1,000,000 characters (rendering alone has no byte limit)',
        },
        404: {
          description:
            'PROMPT_NOT_FOUND (no production version: "Prompt \'<name>\' not found or has no PRODUCTION version") or VERSION_NOT_FOUND',
        },
      },
      handler: async ({ res, params, body, auth }) => {
        res.json({ data: await renderPrompt(sql, auth, params.idOrName, body) });
      },
    }),
  ];
}
