import type { PromptRow, VersionRow } from '@promptmill/infra/db';
import { chatMessageSchema, modelParamsSchema } from '@promptmill/workflows';
import { z } from 'zod';
import { positiveInt32 } from '../http/zod-primitives.ts';

// Request and response shapes of the prompt registry (the routes validate with these and document
// them in OpenAPI).

export const promptNameSchema = z
  .string()
  .trim()
  .min(1)
  .max(200)
  .refine((n) => !n.startsWith('pmt_'), { message: "Prompt names cannot start with 'pmt_'" });

const tagsSchema = z.array(z.string().trim().min(1).max(50)).max(50);

export const createPromptSchema = z
  .object({
    name: promptNameSchema,
    description: z.string().max(5000).default(''),
    tags: tagsSchema.default([]),
  })
  .strict();
export type CreatePromptInput = z.infer<typeof createPromptSchema>;

export const patchPromptSchema = z
  .object({
    name: promptNameSchema.optional(),
    description: z.string().max(5000).optional(),
    tags: tagsSchema.optional(),
  })
  .strict()
  .refine((p) => p.name !== undefined || p.description !== undefined || p.tags !== undefined, {
    message: 'Give at least one of name, description or tags',
    path: ['(body)'],
  });
export type PatchPromptInput = z.infer<typeof patchPromptSchema>;

const tagFilterSchema = z.union([z.string().min(1).max(50), z.array(z.string().min(1).max(50)).max(10)]);

export const listPromptsQuerySchema = z.object({
  tag: tagFilterSchema
    .optional()
    .meta({ description: 'Only prompts carrying this tag (repeat: all of them)' }),
  search: z.string().trim().max(200).optional().meta({ description: 'Case-insensitive part of the name' }),
});

export const LABEL_PATTERN = /^[a-z0-9][a-z0-9_-]{0,49}$/;
export const labelSchema = z
  .string()
  .regex(
    LABEL_PATTERN,
    'A label is 1–50 characters of a-z, 0-9, _ and -, starting with a letter or a digit (e.g. production)',
  );

export const variableSpecSchema = z
  .object({
    name: z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'Variable names are letters, digits and _'),
    required: z.boolean().default(true),
    default: z.string().max(10_000).optional(),
    description: z.string().max(1000).optional(),
  })
  .strict()
  .meta({ id: 'VariableSpec' });

export const createVersionSchema = z
  .object({
    template: z.string().max(200_000).optional().meta({ description: 'Text prompt (or give messages)' }),
    messages: z
      .array(chatMessageSchema)
      .min(1)
      .max(100)
      .optional()
      .meta({ description: 'Chat prompt: system, user and assistant messages; variables in any of them' }),
    model: z.string().trim().min(1).max(200),
    params: modelParamsSchema.default({}),
    fallbackModels: z.array(z.string().trim().min(1).max(200)).max(5).default([]),
    variables: z.array(variableSpecSchema).max(200).optional().meta({
      description:
        'The variables contract. Inferred from the template when omitted; when given, it must declare every variable the template uses',
    }),
    cacheTtlSeconds: z
      .number()
      .int()
      .min(1)
      .max(86_400 * 30)
      .nullable()
      .default(null),
    commitMessage: z.string().max(1000).nullable().default(null),
    labels: z.array(labelSchema).max(10).default([]).meta({
      description: 'Labels to point at the new version, e.g. ["production"]',
    }),
  })
  .strict()
  .refine((v) => (v.template === undefined) !== (v.messages === undefined), {
    message: 'Give exactly one of template (text) or messages (chat)',
    path: ['template'],
  });
export type CreateVersionInput = z.infer<typeof createVersionSchema>;

export const renderBodySchema = z
  .object({
    version: positiveInt32().optional(),
    label: labelSchema.optional(),
    variables: z.record(z.string(), z.unknown()).default({}),
  })
  .strict()
  .refine((b) => b.version === undefined || b.label === undefined, {
    message: 'Give version or label, not both',
    path: ['label'],
  });
export type RenderBody = z.infer<typeof renderBodySchema>;

export const moveLabelBodySchema = z.object({ version: positiveInt32() }).strict();

// ---------------------------------------------------------------------------------------------
// Response shapes.

export const promptSchema = z
  .object({
    id: z.string().meta({ example: 'pmt_3yQ1k9…' }),
    name: z.string(),
    description: z.string(),
    tags: z.array(z.string()),
    latestVersion: z.number().int().meta({ description: '0 until the first version is created' }),
    labels: z.record(z.string(), z.number().int()).meta({ example: { production: 3, staging: 4 } }),
    createdAt: z.string(),
    updatedAt: z.string(),
  })
  .meta({ id: 'Prompt' });
export type PromptDto = Omit<z.infer<typeof promptSchema>, 'createdAt' | 'updatedAt'> & {
  createdAt: Date;
  updatedAt: Date;
};

export const versionSchema = z
  .object({
    id: z.string().meta({ example: 'ver_8fJ2…' }),
    promptId: z.string(),
    version: z.number().int(),
    type: z.enum(['text', 'chat']),
    template: z.string().nullable(),
    messages: z.array(chatMessageSchema).nullable(),
    model: z.string(),
    params: modelParamsSchema,
    fallbackModels: z.array(z.string()),
    variables: z.array(variableSpecSchema),
    cacheTtlSeconds: z.number().int().nullable(),
    commitMessage: z.string().nullable(),
    labels: z.array(z.string()).meta({ description: 'Labels currently pointing at this version' }),
    createdAt: z.string(),
  })
  .meta({ id: 'PromptVersion' });
export type VersionDto = Omit<z.infer<typeof versionSchema>, 'createdAt'> & { createdAt: Date };

export const labelSchemaOut = z
  .object({ label: z.string(), version: z.number().int(), versionId: z.string(), updatedAt: z.string() })
  .meta({ id: 'PromptLabel' });

export const renderResultSchema = z
  .object({
    promptId: z.string(),
    version: z.number().int(),
    versionId: z.string(),
    model: z.string(),
    fallbackModels: z.array(z.string()),
    params: modelParamsSchema,
    content: z.string().optional().meta({ description: 'Text versions: the rendered template' }),
    messages: z
      .array(chatMessageSchema)
      .optional()
      .meta({ description: 'Chat versions: the rendered messages' }),
  })
  .meta({ id: 'RenderedPrompt' });
export type RenderResult = z.infer<typeof renderResultSchema>;

export function toPromptDto(row: PromptRow, labels: Record<string, number>): PromptDto {
  return {
    id: row.id,
    name: row.name,
    description: row.description,
    tags: row.tags,
    latestVersion: row.latestVersion,
    labels,
    createdAt: row.createdAt,
    updatedAt: row.updatedAt,
  };
}

export function toVersionDto(row: VersionRow, labels: string[]): VersionDto {
  return {
    id: row.id,
    promptId: row.promptId,
    version: row.version,
    type: row.messages === null ? 'text' : 'chat',
    template: row.template,
    messages: row.messages,
    model: row.model,
    params: row.params,
    fallbackModels: row.fallbackModels,
    variables: row.variables,
    cacheTtlSeconds: row.cacheTtlSeconds,
    commitMessage: row.commitMessage,
    labels,
    createdAt: row.createdAt,
  };
}
