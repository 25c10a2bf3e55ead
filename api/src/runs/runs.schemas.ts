import { z } from 'zod';
import { paginationQuerySchema } from '../http/pagination.ts';
import { isoInstant, positiveInt32 } from '../http/zod-primitives.ts';

// Request and response shapes of runs (async, sync, agents), validated and documented from here.

export const RUN_STATUSES = ['queued', 'running', 'succeeded', 'failed', 'canceled'] as const;
const MAX_METADATA_BYTES = 16_384;

export const createRunBodySchema = z
  .object({
    prompt: z.string().trim().min(1).max(200).openapi({ description: 'Prompt id (`pmt_…`) or name' }),
    version: positiveInt32().optional(),
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

export const runIdParamsSchema = z.object({ id: z.string().min(1).max(200) });

export const listRunsQuerySchema = paginationQuerySchema.extend({
  status: z.enum(RUN_STATUSES).optional(),
  prompt: z.string().min(1).max(200).optional().openapi({ description: 'Prompt id or name' }),
  chainRun: z
    .string()
    .min(1)
    .max(200)
    .optional()
    .openapi({ description: 'Only the step runs of this chain run (`wfr_…`)' }),
  from: isoInstant().optional().openapi({ description: 'Created at or after (ISO-8601)' }),
  to: isoInstant().optional().openapi({ description: 'Created before (ISO-8601)' }),
});

export const usageSchema = z.object({
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
    mode: z.enum(['sync', 'stream', 'async', 'direct']).openapi({
      description:
        'How the run was asked for (sync, stream, async), or `direct`: a sync or streaming run the api process executed itself (SYNC_RUN_MODE=direct: not a Temporal workflow)',
    }),
    prompt: z.object({ id: z.string(), name: z.string() }),
    version: z.number().int(),
    model: z
      .string()
      .openapi({ description: 'The model that answered (a fallback when the primary failed)' }),
    output: z.string().nullable(),
    error: z.object({ code: z.string(), message: z.string() }).nullable().openapi({
      description:
        "Why the run did not succeed: a documented code and a fixed message (a provider's own error text is never shown; operators find it in the worker log and usage_events.error_detail)",
    }),
    usage: usageSchema.openapi({ description: 'Sum over every attempt, failed ones included' }),
    attempts: z.number().int(),
    cacheHit: z.boolean(),
    metadata: z.record(z.string(), z.unknown()).nullable(),
    variables: z.record(z.string(), z.unknown()),
    webhookUrl: z.string().nullable(),
    chainRunId: z
      .string()
      .nullable()
      .openapi({ description: 'The chain run (`wfr_…`) this run is a step of; null for other runs' }),
    timings: z.object({
      createdAt: z.string(),
      startedAt: z.string().nullable(),
      finishedAt: z.string().nullable(),
      durationMs: z.number().int().nullable().openapi({ description: 'finishedAt − createdAt' }),
    }),
    links: linksSchema,
  })
  .openapi('Run');

export const acceptedSchema = z
  .object({ data: z.object({ id: z.string(), status: z.enum(RUN_STATUSES), links: linksSchema }) })
  .openapi('RunAccepted');

// The seed-compatible sync routes (seed 000 `POST /api/v1/run`, seed 004 agents).

export const syncRunBodySchema = z
  .object({
    promptName: z.string().trim().min(1).max(200),
    variables: z.record(z.string(), z.unknown()).default({}),
    stream: z.boolean().default(false),
    version: positiveInt32().optional(),
    label: z.string().min(1).max(50).optional(),
  })
  .strict()
  // as POST /v1/runs: one of them picks the version; both is a contradiction, not "version wins"
  .refine((b) => b.version === undefined || b.label === undefined, {
    message: 'Give version or label, not both',
    path: ['label'],
  });

export const agentExecuteBodySchema = z
  .object({ variables: z.record(z.string(), z.unknown()).default({}) })
  .strict()
  .openapi('AgentExecuteBody');

export const agentParamsSchema = z.object({
  promptId: z.string().min(1).openapi({ description: 'Prompt id (`pmt_…`) or name' }),
});

export const syncRunResponseSchema = z
  .object({
    success: z.literal(true),
    output: z.string(),
    promptVersion: z.number().int(),
    durationMs: z.number().int(),
    model: z.string(),
    runId: z.string(),
    usage: usageSchema,
  })
  .openapi('SyncRunResult');

/** Every status the seed-compatible sync routes answer; errors are `{success:false, error, code}`. */
export const SYNC_RUN_RESPONSES = {
  200: {
    description:
      'The run succeeded. `X-Cache: HIT|MISS` when the version has cacheTtlSeconds (a hit costs nothing). A client that closes the connection before the answer cancels the run (it ends `canceled`, with the usage of its attempts).',
    schema: syncRunResponseSchema,
  },
  400: {
    description:
      'VALIDATION_ERROR (the message names the fields), MISSING_VARIABLES, UNKNOWN_VARIABLES, or TEMPLATE_BUDGET_EXCEEDED (rendering these variables would take more than the render budget: 10,000 `#each` iterations, 100,000 steps, values nested 64 levels)',
  },
  402: { description: 'INSUFFICIENT_TOKENS (monthly token budget spent), PAST_DUE or DISPUTED' },
  403: { description: 'MODEL_NOT_ALLOWED, FORBIDDEN (scope or prompt restriction), API_NOT_ALLOWED, …' },
  404: { description: "PROMPT_NOT_FOUND: Prompt '<name>' not found or has no PRODUCTION version" },
  409: { description: 'RUN_CANCELED: the run was canceled while the request waited' },
  413: {
    description:
      'PAYLOAD_TOO_LARGE (request body over MAX_BODY_BYTES) or PROMPT_TOO_LARGE: the rendered prompt is over 1,000,000 characters or 1,500,000 bytes of UTF-8 JSON; no run is created',
  },
  429: { description: 'RATE_LIMITED, with Retry-After' },
  500: {
    description: 'INTERNAL_ERROR (a fixed message; e.g. the workflow service refused the start for good)',
  },
  502: {
    description:
      "PROVIDER_ERROR after retries and fallbacks, with a fixed message per kind of failure (e.g. `Model 'gpt-4o' failed: its provider answered HTTP 503`); the provider's own text is never shown",
  },
  503: {
    description:
      'SERVICE_UNAVAILABLE with `Retry-After`: this api process is at its limit of sync and streaming runs in flight (`SYNC_RUN_MAX_IN_FLIGHT`), answered at once and before anything is written; or the workflow service is unavailable; try again',
  },
  504: { description: 'RUN_TIMEOUT: the run goes on; `runId` in the body, poll GET /v1/runs/:id' },
};
