import type { Sql } from '@promptmill/infra/db';
import { Router } from 'express';
import { z } from 'zod';
import { getAuth } from '../auth/auth-context.ts';
import { requireScope } from '../auth/scopes.ts';
import {
  createdKeySchema,
  createKey,
  createKeySchema,
  getKey,
  keyViewSchema,
  listOrgKeys,
  patchKey,
  patchKeySchema,
  revokeOrgKey,
  rotateKey,
  rotateKeySchema,
} from '../domain/keys.ts';
import { listBody, paginationQuerySchema, toPage } from '../http/pagination.ts';
import type { Clock } from '../limits/clock.ts';
import { documentRoute, paginationMetaSchema } from '../openapi/registry.ts';

const keyIdParamsSchema = z.object({ id: z.string().min(1).max(100) });
const keyBody = z.object({ data: keyViewSchema.meta({ id: 'ApiKey' }) });
const createdKeyBody = z.object({ data: createdKeySchema.meta({ id: 'ApiKeyWithSecret' }) });
const RIGHTS_403 = {
  description: 'FORBIDDEN: the key lacks `keys:write`, or the target key has rights the caller does not have',
};

documentRoute({
  method: 'post',
  path: '/v1/keys',
  summary: 'Create an API key (the secret is returned once)',
  tag: 'Keys',
  scope: 'keys:write',
  body: createKeySchema,
  responses: {
    201: { description: 'Created; `data.key` is the only copy of the secret', schema: createdKeyBody },
    400: { description: 'VALIDATION_ERROR (e.g. an expiry in the past, an origin with a path)' },
    403: { description: 'FORBIDDEN: a key cannot grant scopes or prompts it does not have' },
  },
});

documentRoute({
  method: 'get',
  path: '/v1/keys',
  summary: "List the organization's keys (usage figures lag by about a second)",
  tag: 'Keys',
  scope: 'keys:write',
  query: paginationQuerySchema,
  responses: {
    200: {
      description: 'A page of keys, newest first',
      schema: z.object({ data: z.array(keyViewSchema), meta: paginationMetaSchema }),
    },
  },
});

documentRoute({
  method: 'get',
  path: '/v1/keys/:id',
  summary: 'An API key (never its secret)',
  tag: 'Keys',
  scope: 'keys:write',
  params: keyIdParamsSchema,
  responses: { 200: { description: 'The key', schema: keyBody }, 404: { description: 'KEY_NOT_FOUND' } },
});

documentRoute({
  method: 'patch',
  path: '/v1/keys/:id',
  summary: 'Change name, scopes, prompt restriction, expiry, rate limits or allowed origins',
  tag: 'Keys',
  scope: 'keys:write',
  params: keyIdParamsSchema,
  body: patchKeySchema,
  responses: {
    200: { description: 'The updated key', schema: keyBody },
    403: RIGHTS_403,
    404: { description: 'KEY_NOT_FOUND' },
  },
});

documentRoute({
  method: 'delete',
  path: '/v1/keys/:id',
  summary: 'Revoke a key (immediately, in every api process; idempotent)',
  tag: 'Keys',
  scope: 'keys:write',
  params: keyIdParamsSchema,
  responses: {
    200: { description: 'The revoked key (`status: revoked`)', schema: keyBody },
    403: RIGHTS_403,
    404: { description: 'KEY_NOT_FOUND' },
  },
});

documentRoute({
  method: 'post',
  path: '/v1/keys/:id/rotate',
  summary: 'New secret, same key id; the old secret works for gracePeriodSeconds (default 86400)',
  tag: 'Keys',
  scope: 'keys:write',
  params: keyIdParamsSchema,
  body: rotateKeySchema,
  responses: {
    200: { description: 'The key with its new secret in `data.key` (shown once)', schema: createdKeyBody },
    403: RIGHTS_403,
    404: { description: 'KEY_NOT_FOUND' },
    409: { description: 'INVALID_STATE: the key is revoked' },
  },
});

export function keyRoutes(deps: { sql: Sql; clock: Clock }): Router {
  const router = Router();
  const write = requireScope('keys:write');

  router.post('/keys', write, async (req, res) => {
    const input = createKeySchema.parse(req.body ?? {});
    const key = await createKey(deps.sql, getAuth(res), input, deps.clock());
    res.status(201).location(`/v1/keys/${key.id}`).setHeader('Cache-Control', 'no-store').json({ data: key });
  });

  router.get('/keys', write, async (req, res) => {
    const page = toPage(paginationQuerySchema.parse(req.query));
    const { data, total } = await listOrgKeys(deps.sql, getAuth(res), page, deps.clock());
    res.json(listBody(data, page, total));
  });

  router.get('/keys/:id', write, async (req, res) => {
    const { id } = keyIdParamsSchema.parse(req.params);
    res.json({ data: await getKey(deps.sql, getAuth(res), id, deps.clock()) });
  });

  router.patch('/keys/:id', write, async (req, res) => {
    const { id } = keyIdParamsSchema.parse(req.params);
    const input = patchKeySchema.parse(req.body ?? {});
    res.json({ data: await patchKey(deps.sql, getAuth(res), id, input, deps.clock()) });
  });

  router.delete('/keys/:id', write, async (req, res) => {
    const { id } = keyIdParamsSchema.parse(req.params);
    res.json({ data: await revokeOrgKey(deps.sql, getAuth(res), id, deps.clock()) });
  });

  router.post('/keys/:id/rotate', write, async (req, res) => {
    const { id } = keyIdParamsSchema.parse(req.params);
    const { gracePeriodSeconds } = rotateKeySchema.parse(req.body ?? {});
    const key = await rotateKey(deps.sql, getAuth(res), id, gracePeriodSeconds, deps.clock());
    res.setHeader('Cache-Control', 'no-store').json({ data: key });
  });

  return router;
}
