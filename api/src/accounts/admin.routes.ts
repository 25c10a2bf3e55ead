import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { RequestHandler } from 'express';
import { z } from 'zod';
import { AppError } from '../http/app-error.ts';
import type { AdjustableClock } from '../http/clock.ts';
import { defineRoute, type RouteDef } from '../http/define-route.ts';
import { one } from '../http/openapi.ts';
import { isoDateTime } from '../http/zod-primitives.ts';
import type { AccountDeps } from './deps.ts';
import { createdKeySchema, toKeyView } from './keys.ts';
import { memberViewSchema, toMemberView } from './members.ts';
import { mintOwnerKey, mintOwnerKeySchema, unsuspendOrgMember } from './operator.ts';
import {
  createOrgSchema,
  createOrgWithFirstKey,
  getOrg,
  patchOrg,
  patchOrgSchema,
  toOrgView,
} from './orgs.ts';

// Both sides are MACed with a per-process key before the constant-time compare: equal-length
// digests, so neither the token's content nor its length shows in the timing.
const COMPARE_KEY = randomBytes(32);
const digest = (value: string) => createHmac('sha256', COMPARE_KEY).update(value).digest();

export function isAdminToken(given: string, expected: string): boolean {
  return timingSafeEqual(digest(given), digest(expected));
}

/** Everything under /admin/v1 needs `Authorization: Bearer $ADMIN_TOKEN`; without ADMIN_TOKEN the operator API is off. */
export function requireAdminToken(adminToken: string | undefined): RequestHandler {
  return (req, _res, next) => {
    const match = /^Bearer (.+)$/.exec(req.get('authorization') ?? '');
    if (!adminToken || !match?.[1] || !isAdminToken(match[1], adminToken)) {
      throw new AppError('UNAUTHORIZED', 'Invalid admin token');
    }
    next();
  };
}

const params = z.object({ id: z.string().min(1).max(100) });
const memberParams = z.object({ id: z.string().min(1).max(100), memberId: z.string().min(1).max(100) });
const orgViewSchema = z
  .object({
    id: z.string(),
    name: z.string(),
    plan: z.enum(['free', 'pro', 'team', 'enterprise']),
    billingStatus: z.enum(['active', 'past_due', 'disputed', 'canceled']),
    tokenBudget: z.number().int().nullable(),
    limitOverrides: z.object({ perMinute: z.number().int().optional(), perDay: z.number().int().optional() }),
    limits: z
      .object({ perMinute: z.number().int(), perDay: z.number().int() })
      .describe('The limits in force: plan limits with the overrides applied'),
    allowedModels: z.array(z.string()).nullable(),
    createdAt: z.string(),
    updatedAt: z.string(),
  })
  .meta({ id: 'Organization' });

// ±100 years: the moved clock stays a valid date (an offset past JS Date's range made every request a 500)
const MAX_CLOCK_OFFSET_MS = 100 * 365 * 86_400_000;
const testClockSchema = z
  .object({
    now: isoDateTime().optional(),
    offsetMs: z.number().int().min(-MAX_CLOCK_OFFSET_MS).max(MAX_CLOCK_OFFSET_MS).optional(),
  })
  .strict()
  .refine((v) => (v.now === undefined) !== (v.offsetMs === undefined), {
    message: 'give exactly one of now, offsetMs',
  });

export interface AdminDeps extends AccountDeps {
  /** only with TEST_CLOCK=true (NODE_ENV=test): PUT /admin/v1/test-clock moves this process's clock */
  testClock?: AdjustableClock | undefined;
}

const TAG = 'Admin';

/** The operator API (mounted behind requireAdminToken). */
export function adminRoutes({ sql, clock, testClock, authChanged }: AdminDeps): RouteDef[] {
  const routes = [
    defineRoute({
      method: 'post',
      path: '/admin/v1/orgs',
      summary: 'Create an organization with its owner member and first key (all scopes)',
      tag: TAG,
      auth: 'admin',
      body: createOrgSchema,
      responses: {
        201: {
          description: '`data.key.key` is the first key’s secret, shown once (`Cache-Control: no-store`)',
          schema: one(
            z.object({
              org: orgViewSchema,
              owner: z.record(z.string(), z.unknown()),
              key: z.record(z.string(), z.unknown()),
            }),
          ),
        },
      },
      handler: async ({ res, body }) => {
        const created = await createOrgWithFirstKey(sql, body);
        const { key: secret, ...key } = created.key;
        res
          .status(201)
          .setHeader('Cache-Control', 'no-store')
          .json({
            data: {
              org: toOrgView(created.org),
              owner: created.owner,
              key: { ...toKeyView(key, clock()), key: secret },
            },
          });
      },
    }),
    defineRoute({
      method: 'get',
      path: '/admin/v1/orgs/:id',
      summary: 'An organization',
      tag: TAG,
      auth: 'admin',
      params,
      responses: { 200: { description: 'The organization', schema: one(orgViewSchema) } },
      handler: async ({ res, params: { id } }) => {
        res.json({ data: toOrgView(await getOrg(sql, id)) });
      },
    }),
    defineRoute({
      method: 'patch',
      path: '/admin/v1/orgs/:id',
      summary:
        'Change plan, billing status, token budget, limit overrides or allowed models (effective at once)',
      tag: TAG,
      auth: 'admin',
      params,
      body: patchOrgSchema,
      responses: { 200: { description: 'The organization', schema: one(orgViewSchema) } },
      handler: async ({ res, params: { id }, body }) => {
        const org = await patchOrg(sql, id, body);
        await authChanged({ kind: 'org', id });
        res.json({ data: toOrgView(org) });
      },
    }),
    defineRoute({
      method: 'post',
      path: '/admin/v1/orgs/:id/keys',
      summary:
        "Restore access: a new admin key (all scopes, no restriction or limit) owned by the organization's owner",
      tag: TAG,
      auth: 'admin',
      params,
      body: mintOwnerKeySchema,
      responses: {
        201: {
          description: '`data.key` is the only copy of the secret (`Cache-Control: no-store`)',
          schema: one(createdKeySchema),
        },
        404: { description: 'ORG_NOT_FOUND' },
        409: { description: 'INVALID_STATE: the owner is suspended (unsuspend first)' },
      },
      handler: async ({ res, params: { id }, body }) => {
        const { key: secret, ...key } = await mintOwnerKey(sql, id, body);
        res
          .status(201)
          .setHeader('Cache-Control', 'no-store')
          .json({ data: { ...toKeyView(key, clock()), key: secret } });
      },
    }),
    defineRoute({
      method: 'post',
      path: '/admin/v1/orgs/:id/members/:memberId/unsuspend',
      summary: "Restore access: lift a member's suspension, the owner's included (idempotent)",
      tag: TAG,
      auth: 'admin',
      params: memberParams,
      responses: {
        200: { description: 'The member', schema: one(memberViewSchema) },
        404: { description: 'ORG_NOT_FOUND or MEMBER_NOT_FOUND' },
      },
      handler: async ({ res, params: { id, memberId } }) => {
        const member = await unsuspendOrgMember(sql, id, memberId);
        await authChanged({ kind: 'member', id: memberId });
        res.json({ data: toMemberView(member) });
      },
    }),
  ];
  // Test only: served (and documented) only when TEST_CLOCK=true, which env.ts refuses unless
  // NODE_ENV=test. Lets an end-to-end test put this process at 23:59:59 UTC.
  if (testClock) {
    routes.push(
      defineRoute({
        method: 'put',
        path: '/admin/v1/test-clock',
        summary: 'Test only (TEST_CLOCK=true): move this process’s clock',
        tag: TAG,
        auth: 'admin',
        body: testClockSchema,
        responses: {
          200: {
            description: 'The clock now',
            schema: one(z.object({ now: z.string(), offsetMs: z.number() })),
          },
        },
        handler: ({ res, body }) => {
          if (body.now !== undefined) testClock.setNow(new Date(body.now));
          else testClock.setOffset(body.offsetMs ?? 0);
          res.json({ data: { now: testClock.now().toISOString(), offsetMs: testClock.offsetMs() } });
        },
      }),
    );
  }
  return routes;
}
