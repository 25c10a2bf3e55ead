import { timingSafeEqual } from 'node:crypto';
import type { Sql } from '@promptmill/infra/db';
import { type RequestHandler, Router } from 'express';
import { z } from 'zod';
import { toKeyView } from '../domain/keys.ts';
import {
  createOrgSchema,
  createOrgWithFirstKey,
  getOrg,
  patchOrg,
  patchOrgSchema,
  toOrgView,
} from '../domain/orgs.ts';
import { AppError } from '../http/app-error.ts';
import type { AdjustableClock, Clock } from '../limits/clock.ts';
import { documentRoute } from '../openapi/registry.ts';

function constantTimeEquals(a: string, b: string): boolean {
  const left = Buffer.from(a);
  const right = Buffer.from(b);
  return left.length === right.length && timingSafeEqual(left, right);
}

function requireAdminToken(adminToken: string | undefined): RequestHandler {
  return (req, _res, next) => {
    const match = /^Bearer (.+)$/.exec(req.get('authorization') ?? '');
    if (!adminToken || !match?.[1] || !constantTimeEquals(match[1], adminToken)) {
      throw new AppError('UNAUTHORIZED', 'Invalid admin token');
    }
    next();
  };
}

const orgIdParamsSchema = z.object({ id: z.string().min(1).max(100) });
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

documentRoute({
  method: 'post',
  path: '/admin/v1/orgs',
  summary: 'Create an organization with its owner member and first key (all scopes)',
  tag: 'Admin',
  auth: 'admin',
  body: createOrgSchema,
  responses: {
    201: {
      description: '`data.key.key` is the first key’s secret, shown once',
      schema: z.object({
        data: z.object({
          org: orgViewSchema,
          owner: z.record(z.string(), z.unknown()),
          key: z.record(z.string(), z.unknown()),
        }),
      }),
    },
  },
});

documentRoute({
  method: 'get',
  path: '/admin/v1/orgs/:id',
  summary: 'An organization',
  tag: 'Admin',
  auth: 'admin',
  params: orgIdParamsSchema,
  responses: { 200: { description: 'The organization', schema: z.object({ data: orgViewSchema }) } },
});

documentRoute({
  method: 'patch',
  path: '/admin/v1/orgs/:id',
  summary: 'Change plan, billing status, token budget, limit overrides or allowed models (effective at once)',
  tag: 'Admin',
  auth: 'admin',
  params: orgIdParamsSchema,
  body: patchOrgSchema,
  responses: { 200: { description: 'The organization', schema: z.object({ data: orgViewSchema }) } },
});

const testClockSchema = z
  .object({ now: z.iso.datetime({ offset: true }).optional(), offsetMs: z.number().int().optional() })
  .strict()
  .refine((v) => (v.now === undefined) !== (v.offsetMs === undefined), {
    message: 'give exactly one of now, offsetMs',
  });

export interface AdminDeps {
  sql: Sql;
  adminToken: string | undefined;
  clock: Clock;
  /** only with TEST_CLOCK=true (NODE_ENV=test): PUT /admin/v1/test-clock moves this process's clock */
  testClock?: AdjustableClock;
}

export function adminRoutes(deps: AdminDeps): Router {
  const router = Router();
  router.use(requireAdminToken(deps.adminToken));

  router.post('/orgs', async (req, res) => {
    const input = createOrgSchema.parse(req.body ?? {});
    const created = await createOrgWithFirstKey(deps.sql, input);
    const { key: secret, ...key } = created.key;
    res.status(201).json({
      data: {
        org: toOrgView(created.org),
        owner: created.owner,
        key: { ...toKeyView(key, deps.clock()), key: secret },
      },
    });
  });

  router.get('/orgs/:id', async (req, res) => {
    const { id } = orgIdParamsSchema.parse(req.params);
    res.json({ data: toOrgView(await getOrg(deps.sql, id)) });
  });

  router.patch('/orgs/:id', async (req, res) => {
    const { id } = orgIdParamsSchema.parse(req.params);
    const input = patchOrgSchema.parse(req.body ?? {});
    res.json({ data: toOrgView(await patchOrg(deps.sql, id, input)) });
  });

  // Test-only and undocumented in OpenAPI: mounted only when TEST_CLOCK=true, which env.ts refuses
  // unless NODE_ENV=test. Lets an end-to-end test put this process at 23:59:59 UTC.
  const testClock = deps.testClock;
  if (testClock) {
    router.put('/test-clock', (req, res) => {
      const input = testClockSchema.parse(req.body ?? {});
      if (input.now !== undefined) testClock.setNow(new Date(input.now));
      else testClock.setOffset(input.offsetMs ?? 0);
      res.json({ data: { now: testClock.now().toISOString(), offsetMs: testClock.offsetMs() } });
    });
  }

  return router;
}
