import type { Sql } from '@promptmill/infra/db';
import { defineRoute, type RouteDef } from '../http/define-route.ts';
import { many, one } from '../http/openapi.ts';
import { listBody, paginationQuerySchema, toPage } from '../http/pagination.ts';
import { createChain, deleteChain, getChain, listChainResources, updateChain } from './chain-definitions.ts';
import { chainBodySchema, chainGetQuerySchema, chainIdParamsSchema, chainSchema } from './chains.schemas.ts';

const TAG = 'Workflows';
const INVALID = {
  description:
    'VALIDATION_ERROR (the body’s shape, e.g. more than 50 steps) or INVALID_CHAIN: every problem at once in `details` — duplicate step ids, unknown steps in dependsOn, cycles (named: `Cycle: a → b → a`), references to unknown steps or inputs or to steps that are not (transitive) dependencies, unknown prompts, versions or labels, variables the prompt does not declare or requires',
};

/** Chain definitions (`/v1/workflows`): create, read (any revision), replace (a new revision), delete. */
export function chainRoutes(deps: { sql: Sql }): RouteDef[] {
  const { sql } = deps;
  return [
    defineRoute({
      method: 'post',
      path: '/v1/workflows',
      summary: 'Define a chain: prompts wired into a graph of steps',
      tag: TAG,
      scope: 'workflows:write',
      body: chainBodySchema,
      responses: {
        201: {
          description: 'Created (revision 1); `Location: /v1/workflows/<id>`',
          schema: one(chainSchema),
        },
        400: INVALID,
        403: { description: "FORBIDDEN: the key lacks workflows:write, or may not use a step's prompt" },
        409: { description: 'CONFLICT: the name is taken in this organization' },
      },
      handler: async ({ res, body, auth }) => {
        const chain = await createChain(sql, auth, body);
        res.status(201).location(`/v1/workflows/${chain.id}`).json({ data: chain });
      },
    }),
    defineRoute({
      method: 'get',
      path: '/v1/workflows',
      summary: 'List chains, newest first',
      tag: TAG,
      scope: 'runs:read',
      query: paginationQuerySchema,
      responses: { 200: { description: 'A page of chains (current revisions)', schema: many(chainSchema) } },
      handler: async ({ res, query, auth }) => {
        const page = toPage(query);
        const { chains, total } = await listChainResources(sql, auth, page);
        res.json(listBody(chains, page, total));
      },
    }),
    defineRoute({
      method: 'get',
      path: '/v1/workflows/:id',
      summary: 'A chain (by id or name), at its current revision or `?revision=N`',
      tag: TAG,
      scope: 'runs:read',
      params: chainIdParamsSchema,
      query: chainGetQuerySchema,
      responses: {
        200: { description: 'The chain', schema: one(chainSchema) },
        404: { description: "WORKFLOW_NOT_FOUND (also for another organization's chain)" },
      },
      handler: async ({ res, params, query, auth }) => {
        res.json({ data: await getChain(sql, auth, params.id, query.revision) });
      },
    }),
    defineRoute({
      method: 'put',
      path: '/v1/workflows/:id',
      summary: 'Replace a chain: a new immutable revision (running chains keep theirs)',
      tag: TAG,
      scope: 'workflows:write',
      params: chainIdParamsSchema,
      body: chainBodySchema,
      responses: {
        200: { description: 'The new revision', schema: one(chainSchema) },
        400: INVALID,
        404: { description: 'WORKFLOW_NOT_FOUND' },
        409: { description: 'CONFLICT: the new name is taken' },
      },
      handler: async ({ res, params, body, auth }) => {
        res.json({ data: await updateChain(sql, auth, params.id, body) });
      },
    }),
    defineRoute({
      method: 'delete',
      path: '/v1/workflows/:id',
      summary: 'Delete a chain (its runs stay readable; its name becomes free)',
      tag: TAG,
      scope: 'workflows:write',
      params: chainIdParamsSchema,
      responses: { 204: { description: 'Deleted' }, 404: { description: 'WORKFLOW_NOT_FOUND' } },
      handler: async ({ res, params, auth }) => {
        await deleteChain(sql, auth, params.id);
        res.status(204).end();
      },
    }),
  ];
}
