import { newId } from '@promptmill/infra';
import {
  findPrompt,
  findVersionByLabel,
  findVersionByNumber,
  insertPrompt,
  insertVersion,
  type PromptRow,
  type Sql,
  setLabel,
  type VersionRow,
} from '@promptmill/infra/db';
import { chatMessageSchema, modelParamsSchema } from '@promptmill/workflows';
import {
  inferVariables,
  type ParsedTemplate,
  parseTemplate,
  TemplateSyntaxError,
} from '@promptmill/workflows/template';
import { z } from 'zod';
import { AppError } from '../http/app-error.ts';

export const promptNameSchema = z
  .string()
  .trim()
  .min(1)
  .max(200)
  .refine((n) => !n.startsWith('pmt_'), { message: "Prompt names cannot start with 'pmt_'" });

export const createPromptSchema = z
  .object({
    name: promptNameSchema,
    description: z.string().max(5000).default(''),
    tags: z.array(z.string().trim().min(1).max(50)).max(50).default([]),
  })
  .strict();

export const variableSpecSchema = z
  .object({
    name: z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'Variable names are letters, digits and _'),
    required: z.boolean().default(true),
    default: z.string().optional(),
    description: z.string().max(1000).optional(),
  })
  .strict();

export const createVersionSchema = z
  .object({
    template: z.string().max(200_000).optional(),
    messages: z.array(chatMessageSchema).min(1).max(100).optional(),
    model: z.string().trim().min(1).max(200),
    params: modelParamsSchema.default({}),
    fallbackModels: z.array(z.string().trim().min(1).max(200)).max(5).default([]),
    variables: z.array(variableSpecSchema).max(200).optional(),
    cacheTtlSeconds: z
      .number()
      .int()
      .min(1)
      .max(86_400 * 30)
      .nullable()
      .default(null),
    commitMessage: z.string().max(1000).nullable().default(null),
    labels: z
      .array(z.string().regex(/^[a-z0-9][a-z0-9_-]{0,49}$/))
      .max(10)
      .default([]),
  })
  .strict()
  .refine((v) => (v.template === undefined) !== (v.messages === undefined), {
    message: 'Give exactly one of template (text) or messages (chat)',
    path: ['template'],
  });
export type CreateVersionInput = z.infer<typeof createVersionSchema>;

export async function createPrompt(
  sql: Sql,
  orgId: string,
  input: z.infer<typeof createPromptSchema>,
): Promise<PromptRow> {
  if (await findPrompt(sql, orgId, input.name)) {
    throw new AppError('CONFLICT', `A prompt named '${input.name}' already exists`);
  }
  try {
    return await insertPrompt(sql, { id: newId('prompt'), orgId, ...input });
  } catch (err) {
    if ((err as { code?: string }).code === '23505') {
      throw new AppError('CONFLICT', `A prompt named '${input.name}' already exists`);
    }
    throw err;
  }
}

export async function getPrompt(sql: Sql, orgId: string, idOrName: string): Promise<PromptRow> {
  const prompt = await findPrompt(sql, orgId, idOrName);
  if (!prompt) throw new AppError('PROMPT_NOT_FOUND', `Prompt '${idOrName}' not found`);
  return prompt;
}

function parseOrThrow(source: string, field: string): ParsedTemplate {
  try {
    return parseTemplate(source);
  } catch (err) {
    if (err instanceof TemplateSyntaxError) {
      throw new AppError('INVALID_TEMPLATE', `${err.message} at line ${err.line}, column ${err.column}`, {
        details: [{ field, message: `${err.message} (line ${err.line}, column ${err.column})` }],
        extra: {},
      });
    }
    throw err;
  }
}

export async function createVersion(
  sql: Sql,
  orgId: string,
  idOrName: string,
  input: CreateVersionInput,
): Promise<VersionRow> {
  const prompt = await getPrompt(sql, orgId, idOrName);
  const parsed = input.messages?.map((m, i) => parseOrThrow(m.content, `messages.${i}.content`)) ?? [
    parseOrThrow(input.template ?? '', 'template'),
  ];
  const variables = input.variables ?? inferVariables(parsed);
  const version = await insertVersion(sql, {
    id: newId('version'),
    promptId: prompt.id,
    template: input.template ?? null,
    messages: input.messages ?? null,
    model: input.model,
    params: input.params,
    fallbackModels: input.fallbackModels,
    variables,
    cacheTtlSeconds: input.cacheTtlSeconds,
    commitMessage: input.commitMessage,
  });
  for (const label of input.labels) await setLabel(sql, prompt.id, label, version.id);
  return version;
}

export async function moveLabel(
  sql: Sql,
  orgId: string,
  idOrName: string,
  label: string,
  versionNumber: number,
): Promise<{ label: string; version: number; versionId: string }> {
  const prompt = await getPrompt(sql, orgId, idOrName);
  const version = await findVersionByNumber(sql, prompt.id, versionNumber);
  if (!version)
    throw new AppError('VERSION_NOT_FOUND', `Prompt '${idOrName}' has no version ${versionNumber}`);
  await setLabel(sql, prompt.id, label, version.id);
  return { label, version: version.version, versionId: version.id };
}

export interface VersionSelector {
  version?: number | undefined;
  label?: string | undefined;
}

/** The version a run uses: an explicit number, a label, or `production`. */
export async function resolveVersion(
  sql: Sql,
  prompt: PromptRow,
  selector: VersionSelector,
): Promise<VersionRow | undefined> {
  if (selector.version !== undefined) return findVersionByNumber(sql, prompt.id, selector.version);
  return findVersionByLabel(sql, prompt.id, selector.label ?? 'production');
}
