import { z } from 'zod';
import type { Clock } from '../http/clock.ts';
import { defineRoute, type RouteDef } from '../http/define-route.ts';
import { many, one } from '../http/openapi.ts';
import { listBody, paginationQuerySchema, toPage } from '../http/pagination.ts';
import type { AccountDeps } from './deps.ts';
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
} from './keys.ts';

const params = z.object({ id: z.string().min(1).max(100) });
const keyBody = one(keyViewSchema.meta({ id: 'ApiKey' }));
const createdKeyBody = one(createdKeySchema.meta({ id: 'ApiKeyWithSecret' }));
const RIGHTS_403 = {
  description:
    "FORBIDDEN: the key lacks `keys:write`, presents a secret replaced by a rotation, the target key (or the key as changed) has rights the caller does not have (scopes, prompts, rate limits, expiry, origins), or the target's owner has a role not below the caller's owner",
};
const TAG = 'Keys';
const scope = 'keys:write';

export function keyRoutes({ sql, clock, authChanged }: AccountDeps): RouteDef[] {
  const now: Clock = clock;
  return [
    defineRoute({
      method: 'post',
      path: '/v1/keys',
      summary: 'Create an API key (the secret is returned once)',
      tag: TAG,
      scope,
      body: createKeySchema,
      responses: {
        201: { description: 'Created; `data.key` is the only copy of the secret', schema: createdKeyBody },
        400: { description: 'VALIDATION_ERROR (e.g. an expiry in the past, an origin with a path)' },
        403: {
          description:
            'FORBIDDEN: a key cannot grant rights it does not have (scopes, prompts, rate limits, expiry, origins), create keys for a member whose role is not below its owner’s, or be a secret replaced by a rotation',
        },
      },
      handler: async ({ res, body, auth }) => {
        const key = await createKey(sql, auth, body, now());
        res
          .status(201)
          .location(`/v1/keys/${key.id}`)
          .setHeader('Cache-Control', 'no-store')
          .json({ data: key });
      },
    }),
    defineRoute({
      method: 'get',
      path: '/v1/keys',
      summary: "List the organization's keys (usage figures lag by about a second)",
      tag: TAG,
      scope,
      query: paginationQuerySchema,
      responses: { 200: { description: 'A page of keys, newest first', schema: many(keyViewSchema) } },
      handler: async ({ res, query, auth }) => {
        const page = toPage(query);
        const { data, total } = await listOrgKeys(sql, auth, page, now());
        res.json(listBody(data, page, total));
      },
    }),
    defineRoute({
      method: 'get',
      path: '/v1/keys/:id',
      summary: 'An API key (never its secret)',
      tag: TAG,
      scope,
      params,
      responses: { 200: { description: 'The key', schema: keyBody }, 404: { description: 'KEY_NOT_FOUND' } },
      handler: async ({ res, params: { id }, auth }) => {
        res.json({ data: await getKey(sql, auth, id, now()) });
      },
    }),
    defineRoute({
      method: 'patch',
      path: '/v1/keys/:id',
      summary: 'Change name, scopes, prompt restriction, expiry, rate limits or allowed origins',
      tag: TAG,
      scope,
      params,
      body: patchKeySchema,
      responses: {
        200: { description: 'The updated key', schema: keyBody },
        403: RIGHTS_403,
        404: { description: 'KEY_NOT_FOUND' },
      },
      handler: async ({ res, params: { id }, body, auth }) => {
        const key = await patchKey(sql, auth, id, body, now());
        await authChanged({ kind: 'key', id });
        res.json({ data: key });
      },
    }),
    defineRoute({
      method: 'delete',
      path: '/v1/keys/:id',
      summary: 'Revoke a key (immediately, in every api process; idempotent)',
      tag: TAG,
      scope,
      params,
      responses: {
        200: { description: 'The revoked key (`status: revoked`)', schema: keyBody },
        403: RIGHTS_403,
        404: { description: 'KEY_NOT_FOUND' },
      },
      handler: async ({ res, params: { id }, auth }) => {
        const key = await revokeOrgKey(sql, auth, id, now());
        await authChanged({ kind: 'key', id });
        res.json({ data: key });
      },
    }),
    defineRoute({
      method: 'post',
      path: '/v1/keys/:id/rotate',
      summary: 'New secret, same key id; the old secret works for gracePeriodSeconds (default 86400)',
      tag: TAG,
      scope,
      params,
      body: rotateKeySchema,
      responses: {
        200: {
          description: 'The key with its new secret in `data.key` (shown once)',
          schema: createdKeyBody,
        },
        403: RIGHTS_403,
        404: { description: 'KEY_NOT_FOUND' },
        409: { description: 'INVALID_STATE: the key is revoked' },
      },
      handler: async ({ res, params: { id }, body, auth }) => {
        const key = await rotateKey(sql, auth, id, body.gracePeriodSeconds, now());
        await authChanged({ kind: 'key', id });
        res.setHeader('Cache-Control', 'no-store').json({ data: key });
      },
    }),
  ];
}
