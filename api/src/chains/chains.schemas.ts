import { MAX_CHAIN_STEPS, STEP_ID_PATTERN } from '@promptmill/workflows';
import { z } from 'zod';
import { paginationQuerySchema } from '../http/pagination.ts';
import { isoInstant, positiveInt32, positiveInt32Param } from '../http/zod-primitives.ts';
import { labelSchema, variableSpecSchema } from '../prompts/prompts.schemas.ts';
import { usageSchema } from '../runs/runs.schemas.ts';

// Request and response shapes of chains (`/v1/workflows`) and chain runs (`/v1/workflow-runs`).

const stepIdSchema = z
  .string()
  .regex(STEP_ID_PATTERN, 'A step id is 1–64 characters of letters, digits, _ and -, starting with a letter');

export const chainStepSchema = z
  .object({
    id: stepIdSchema,
    prompt: z.string().trim().min(1).max(200).openapi({ description: 'Prompt id (`pmt_…`) or name' }),
    version: positiveInt32().optional(),
    label: labelSchema.optional().openapi({ description: 'Default: `production`' }),
    variables: z.record(z.string().min(1).max(100), z.unknown()).default({}).openapi({
      description:
        'Prompt variable → value: literal JSON, or text with `{{input.x}}`, `{{steps.<id>.output}}`, `{{steps.<id>.json.<path>}}` inside (a value that is one reference takes the referenced value as is)',
    }),
    dependsOn: z.array(z.string().min(1).max(64)).max(MAX_CHAIN_STEPS).default([]),
    onError: z.enum(['fail', 'continue']).default('fail').openapi({
      description: '`fail`: the chain fails (steps not started are skipped); `continue`: it goes on',
    }),
    model: z.string().min(1).max(200).optional().openapi({ description: "Overrides the version's model" }),
  })
  .strict()
  .refine((s) => s.version === undefined || s.label === undefined, {
    message: 'Give version or label, not both',
    path: ['label'],
  });

export const chainOutputSchema = z
  .union([
    z.object({ step: stepIdSchema }).strict(),
    z.object({ template: z.string().min(1).max(100_000) }).strict(),
  ])
  .openapi({
    description: "One step's output, or a template over step outputs. Default: the last step's output",
  });

export const chainBodySchema = z
  .object({
    name: z.string().trim().min(1).max(200),
    description: z.string().max(2000).default(''),
    input: z.array(variableSpecSchema).max(100).optional().openapi({
      description:
        'The input contract: variables with required/default, as prompt versions declare them. Omitted: every `{{input.x}}` the steps and output reference, required',
    }),
    steps: z.array(chainStepSchema).min(1).max(MAX_CHAIN_STEPS),
    output: chainOutputSchema.optional(),
  })
  .strict()
  .openapi('ChainDefinitionBody');
/** The body as sent (its input contract may be left out) and as checked and stored (always one). */
export type ChainBodyIn = z.output<typeof chainBodySchema>;
export type ChainBody = ChainBodyIn & { input: NonNullable<ChainBodyIn['input']> };

export const chainIdParamsSchema = z.object({ id: z.string().min(1).max(200) });
export const chainGetQuerySchema = z.object({
  revision: positiveInt32Param()
    .optional()
    .openapi({ description: 'An earlier revision (default: current)' }),
});

const stepOutSchema = z.object({
  id: z.string(),
  prompt: z.string(),
  version: z.number().int().optional(),
  label: z.string().optional(),
  variables: z.record(z.string(), z.unknown()),
  dependsOn: z.array(z.string()),
  onError: z.enum(['fail', 'continue']),
  model: z.string().optional(),
});

export const chainSchema = z
  .object({
    id: z.string(),
    name: z.string(),
    description: z.string(),
    revision: z.number().int().openapi({ description: 'Every PUT makes a new immutable revision' }),
    input: z.array(z.object({ name: z.string(), required: z.boolean(), default: z.string().optional() })),
    steps: z.array(stepOutSchema),
    output: z.union([z.object({ step: z.string() }), z.object({ template: z.string() })]).nullable(),
    createdAt: z.string(),
    updatedAt: z.string(),
    links: z.object({ self: z.string(), runs: z.string() }),
  })
  .openapi('Chain');

export const CHAIN_RUN_STATUSES = ['queued', 'running', 'succeeded', 'failed', 'canceled'] as const;
const STEP_STATUSES = ['pending', 'running', 'succeeded', 'failed', 'canceled', 'skipped'] as const;

export const startChainRunBodySchema = z
  .object({
    input: z.record(z.string(), z.unknown()).default({}),
    metadata: z
      .record(z.string().max(100), z.unknown())
      .refine((m) => JSON.stringify(m).length <= 16_384, {
        message: 'metadata must be at most 16384 bytes of JSON',
      })
      .nullable()
      .optional(),
    webhookUrl: z
      .url({ protocol: /^https?$/, message: 'webhookUrl must be an http(s) URL' })
      .max(2048)
      .nullable()
      .optional(),
  })
  .strict()
  .openapi('StartChainRunBody');
export type StartChainRunBody = z.output<typeof startChainRunBodySchema>;

const errorSchema = z.object({ code: z.string(), message: z.string() }).nullable();

export const chainRunSchema = z
  .object({
    id: z.string(),
    workflow: z.object({ id: z.string(), name: z.string(), revision: z.number().int() }),
    status: z.enum(CHAIN_RUN_STATUSES),
    input: z.record(z.string(), z.unknown()),
    output: z.string().nullable(),
    error: errorSchema,
    metadata: z.record(z.string(), z.unknown()).nullable(),
    webhookUrl: z.string().nullable(),
    usage: usageSchema.openapi({ description: "Sum over every step's attempts" }),
    attempts: z.number().int(),
    steps: z.array(
      z.object({
        id: z.string(),
        status: z.enum(STEP_STATUSES),
        runId: z.string().nullable(),
        prompt: z.object({ id: z.string(), name: z.string(), version: z.number().int() }),
        model: z.string(),
        output: z.string().nullable(),
        error: errorSchema,
        usage: usageSchema,
        attempts: z.number().int(),
        timings: z.object({
          startedAt: z.string().nullable(),
          finishedAt: z.string().nullable(),
          durationMs: z.number().int().nullable(),
        }),
      }),
    ),
    timings: z.object({
      createdAt: z.string(),
      startedAt: z.string().nullable(),
      finishedAt: z.string().nullable(),
      durationMs: z.number().int().nullable(),
    }),
    links: z.object({ self: z.string(), cancel: z.string() }),
  })
  .openapi('ChainRun');

export const chainRunAcceptedSchema = z
  .object({
    data: z.object({
      id: z.string(),
      status: z.enum(CHAIN_RUN_STATUSES),
      links: z.object({ self: z.string(), cancel: z.string() }),
    }),
  })
  .openapi('ChainRunAccepted');

export const listChainRunsQuerySchema = paginationQuerySchema.extend({
  status: z.enum(CHAIN_RUN_STATUSES).optional(),
  workflow: z.string().min(1).max(200).optional().openapi({ description: 'Chain id or name' }),
  from: isoInstant().optional(),
  to: isoInstant().optional(),
});

export const chainRunIdParamsSchema = z.object({ id: z.string().min(1).max(200) });
