import type { Sql } from '@promptmill/infra/db';
import { chatMessageSchema, modelParamsSchema } from '@promptmill/workflows';
import { z } from 'zod';
import { AppError } from '../http/app-error.ts';
import { listBody, type Page } from '../http/pagination.ts';
import {
  createPromptSchema,
  createVersionSchema,
  type PromptDto,
  promptNameSchema,
  type VersionDto,
  variableSpecSchema,
} from './prompts.schemas.ts';
import type { PromptAccess } from './prompts.ts';
import { type LibraryTemplate, TEMPLATE_CATEGORIES, TEMPLATE_LIBRARY } from './template-library.data.ts';
import { createPromptWithVersion } from './versions.ts';

export { type LibraryTemplate, TEMPLATE_CATEGORIES, TEMPLATE_LIBRARY };

const BY_ID = new Map(TEMPLATE_LIBRARY.map((t) => [t.id, t]));

export const templateSchema = z
  .object({
    id: z.string().meta({ example: 'tpl_summarize' }),
    name: z.string(),
    description: z.string(),
    category: z.enum(TEMPLATE_CATEGORIES),
    messages: z.array(chatMessageSchema),
    variables: z.array(variableSpecSchema),
    suggestedModel: z.string(),
    params: modelParamsSchema,
    example: z.record(z.string(), z.unknown()),
  })
  .meta({ id: 'LibraryTemplate' });

export const listTemplatesQuerySchema = z.object({ category: z.enum(TEMPLATE_CATEGORIES).optional() });

export const useTemplateBodySchema = z
  .object({
    name: promptNameSchema
      .optional()
      .meta({ description: "The new prompt's name. Default: the template's name" }),
    model: z
      .string()
      .trim()
      .min(1)
      .max(200)
      .optional()
      .meta({ description: "Default: the template's suggestedModel" }),
    description: z.string().max(5000).optional(),
    tags: z.array(z.string().trim().min(1).max(50)).max(50).optional(),
  })
  .strict();

export function listTemplates(filter: z.infer<typeof listTemplatesQuerySchema>, page: Page) {
  const all = TEMPLATE_LIBRARY.filter((t) => filter.category === undefined || t.category === filter.category);
  return listBody(all.slice(page.offset, page.offset + page.perPage), page, all.length);
}

export function getTemplate(id: string): LibraryTemplate {
  const template = BY_ID.get(id);
  if (!template) throw new AppError('TEMPLATE_NOT_FOUND', `Template '${id}' not found`);
  return template;
}

/** A new prompt from a template: version 1 with the template's messages, labelled production. */
export async function useTemplate(
  sql: Sql,
  access: PromptAccess,
  id: string,
  body: z.infer<typeof useTemplateBodySchema>,
): Promise<{ prompt: PromptDto; version: VersionDto }> {
  const template = getTemplate(id);
  const promptInput = createPromptSchema.parse({
    name: body.name ?? template.name,
    description: body.description ?? template.description,
    tags: body.tags ?? [template.category],
  });
  const versionInput = createVersionSchema.parse({
    messages: template.messages,
    model: body.model ?? template.suggestedModel,
    params: template.params,
    variables: template.variables,
    commitMessage: `Created from template ${template.id}`,
    labels: ['production'],
  });
  return createPromptWithVersion(sql, access, promptInput, versionInput);
}
