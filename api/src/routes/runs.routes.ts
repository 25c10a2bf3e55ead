import { type Response, Router } from 'express';
import { z } from 'zod';
import { getAuth } from '../auth/auth-context.ts';
import { requireScope } from '../auth/scopes.ts';
import { preferredWaitSeconds, readIdempotencyKey, requestHash } from '../domain/idempotency.ts';
import {
  type AsyncRunResult,
  cancelRun,
  createAsyncRun,
  getRun,
  listRunResources,
  type RunDeps,
  runLinks,
  waitForRun,
} from '../domain/runs.ts';
import { listBody, paginationQuerySchema, toPage } from '../http/pagination.ts';
import { documentRoute, paginationMetaSchema } from '../openapi/registry.ts';

const RUN_STATUSES = ['queued', 'running', 'succeeded', 'failed', 'canceled'] as const;
const MAX_METADATA_BYTES = 16_384;

export const createRunBodySchema = z
  .object({
    prompt: z.string().trim().min(1).max(200).openapi({ description: 'Prompt id (`pmt_…`) or name' }),
    version: z.number().int().min(1).optional(),
    label: z.string().min(1).max(50).optional().openapi({ description: 'Default: `production`' }),
    variables: z.record(z.string(), z.unknown()).default({}),
    metadata: z
      .record(z.string().max(100), z.unknown())
      .refine((m) => JSON.stringify(m).length <= MAX_METADATA_BYTES, {
        message: `metadata must be at most ${MAX_METADATA_BYTES} bytes of JSON`,
      })
      .nullable()
      .optional()
      .openapi({ description: 'Free-form JSON kept with the run and returned as is' }),
    webhookUrl: z
      .url({ protocol: /^https?$/, message: 'webhookUrl must be an http(s) URL' })
      .max(2048)
      .nullable()
      .optional(),
  })
  .strict()
  .refine((b) => b.version === undefined || b.label === undefined, {
    message: 'Give version or label, not both',
    path: ['label'],
  })
  .openapi('CreateRunBody');

const runIdParamsSchema = z.object({ id: z.string().min(1).max(200) });

export const listRunsQuerySchema = paginationQuerySchema.extend({
  status: z.enum(RUN_STATUSES).optional(),
  prompt: z.string().min(1).max(200).optional().openapi({ description: 'Prompt id or name' }),
  from: z.iso
    .datetime({ offset: true })
    .transform((v) => new Date(v))
    .optional()
    .openapi({ description: 'Created at or after (ISO-8601)' }),
  to: z.iso
    .datetime({ offset: true })
    .transform((v) => new Date(v))
    .optional()
    .openapi({ description: 'Created before (ISO-8601)' }),
});

const usageSchema = z.object({
  promptTokens: z.number().int(),
  completionTokens: z.number().int(),
  totalTokens: z.number().int(),
  cost: z.number(),
});
const linksSchema = z.object({ self: z.string(), cancel: z.string() });

export const runSchema = z
  .object({
    id: z.string(),
    status: z.enum(RUN_STATUSES),
    mode: z.enum(['sync', 'stream', 'async']),
    prompt: z.object({ id: z.string(), name: z.string() }),
    version: z.number().int(),
    model: z
      .string()
      .openapi({ description: 'The model that answered (a fallback when the primary failed)' }),
    output: z.string().nullable(),
    error: z.object({ code: z.string(), message: z.string() }).nullable(),
    usage: usageSchema.openapi({ description: 'Sum over every attempt, failed ones included' }),
    attempts: z.number().int(),
    cacheHit: z.boolean(),
    metadata: z.record(z.string(), z.unknown()).nullable(),
    variables: z.record(z.string(), z.unknown()),
    webhookUrl: z.string().nullable(),
    timings: z.object({
      createdAt: z.string(),
      startedAt: z.string().nullable(),
      finishedAt: z.string().nullable(),
      durationMs: z.number().int().nullable().openapi({ description: 'finishedAt − createdAt' }),
    }),
    links: linksSchema,
  })
  .openapi('Run');

const acceptedSchema = z
  .object({ data: z.object({ id: z.string(), status: z.enum(RUN_STATUSES), links: linksSchema }) })
  .openapi('RunAccepted');
const runBodySchema = z.object({ data: runSchema });

documentRoute({
  method: 'post',
  path: '/v1/runs',
  summary: 'Start an async run (Idempotency-Key: 1–255 chars, 24 h; Prefer: wait=N, N ≤ 60)',
  tag: 'Runs',
  scope: 'runs:execute',
  body: createRunBodySchema,
  responses: {
    200: {
      description:
        'With `Prefer: wait=N`: the run ended within N s (`Preference-Applied: wait=N`). A malformed `Prefer` is ignored.',
      schema: runBodySchema,
    },
    202: {
      description:
        'Accepted: `Location: /v1/runs/<id>`. The same `Idempotency-Key` with the same body within 24 h answers with the same run (`Idempotent-Replayed: true`). `X-Cache: HIT|MISS` for versions with cacheTtlSeconds (a hit is already succeeded).',
      schema: acceptedSchema,
    },
    400: { description: 'VALIDATION_ERROR (body or Idempotency-Key), MISSING_VARIABLES, UNKNOWN_VARIABLES' },
    402: { description: 'INSUFFICIENT_TOKENS: the monthly token budget is spent' },
    403: { description: 'MODEL_NOT_ALLOWED or FORBIDDEN' },
    404: { description: 'PROMPT_NOT_FOUND or VERSION_NOT_FOUND' },
    409: { description: 'IDEMPOTENCY_CONFLICT: the key was used with a different body' },
  },
});

documentRoute({
  method: 'get',
  path: '/v1/runs',
  summary: 'List runs, newest first',
  tag: 'Runs',
  scope: 'runs:read',
  query: listRunsQuerySchema,
  responses: {
    200: {
      description: 'A page of runs',
      schema: z.object({ data: z.array(runSchema), meta: paginationMetaSchema }),
    },
  },
});

documentRoute({
  method: 'get',
  path: '/v1/runs/:id',
  summary: 'A run: status, output, error, usage, model, attempts, timings',
  tag: 'Runs',
  scope: 'runs:read',
  params: runIdParamsSchema,
  responses: {
    200: { description: 'The run', schema: runBodySchema },
    404: { description: "RUN_NOT_FOUND (also for another organization's run)" },
  },
});

documentRoute({
  method: 'post',
  path: '/v1/runs/:id/cancel',
  summary: 'Cancel a queued or running run',
  tag: 'Runs',
  scope: 'runs:execute',
  params: runIdParamsSchema,
  responses: {
    200: {
      description: 'The run has ended: `canceled` (or it finished before the cancellation reached it)',
      schema: runBodySchema,
    },
    202: {
      description: 'Cancellation requested; the run has not recorded it yet (poll it)',
      schema: runBodySchema,
    },
    404: { description: 'RUN_NOT_FOUND' },
    409: { description: 'INVALID_STATE: the run has already finished' },
  },
});

function sendAccepted(res: Response, result: AsyncRunResult): void {
  res.status(202).location(`/v1/runs/${result.runId}`);
  res.json({ data: { id: result.runId, status: result.status, links: runLinks(result.runId) } });
}

/** Async runs (`POST /v1/runs`) and reading, listing and canceling runs of any mode. */
export function runsRoutes(deps: RunDeps): Router {
  const router = Router();

  router.post('/runs', requireScope('runs:execute'), async (req, res) => {
    const body = createRunBodySchema.parse(req.body ?? {});
    const key = readIdempotencyKey(req.get('idempotency-key'));
    const wait = preferredWaitSeconds(req.get('prefer'));
    const auth = getAuth(res);
    const result = await createAsyncRun(
      deps,
      auth,
      body,
      key === undefined ? undefined : { key, requestHash: requestHash('POST /v1/runs', body) },
    );
    if (result.replayed) res.setHeader('Idempotent-Replayed', 'true');
    if (result.cache) res.setHeader('X-Cache', result.cache);
    if (wait === undefined) return sendAccepted(res, result);
    res.setHeader('Preference-Applied', `wait=${wait}`);
    const ended = await waitForRun(deps, auth, result.runId, wait);
    if (!ended) return sendAccepted(res, result);
    res.status(200).location(`/v1/runs/${result.runId}`).json({ data: ended });
  });

  router.get('/runs', requireScope('runs:read'), async (req, res) => {
    const query = listRunsQuerySchema.parse(req.query);
    const page = toPage(query);
    const { runs, total } = await listRunResources(
      deps.sql,
      getAuth(res),
      { status: query.status, prompt: query.prompt, from: query.from, to: query.to },
      page,
    );
    res.json(listBody(runs, page, total));
  });

  router.get('/runs/:id', requireScope('runs:read'), async (req, res) => {
    const { id } = runIdParamsSchema.parse(req.params);
    res.json({ data: await getRun(deps.sql, getAuth(res), id) });
  });

  router.post('/runs/:id/cancel', requireScope('runs:execute'), async (req, res) => {
    const { id } = runIdParamsSchema.parse(req.params);
    const { run, hasEnded } = await cancelRun(deps, getAuth(res), id);
    res.status(hasEnded ? 200 : 202).json({ data: run });
  });

  return router;
}
