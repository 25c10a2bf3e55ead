import { newId } from '@promptmill/infra';
import {
  appendVersion,
  deleteLabel,
  findPrompt,
  findVersionByLabel,
  findVersionByNumber,
  insertPrompt,
  insertVersion,
  labelsByPrompt,
  listLabels,
  listPrompts as listPromptRows,
  listVersions as listVersionRows,
  type NewVersion,
  type PromptRow,
  type Sql,
  setLabel,
  softDeletePrompt,
  updatePrompt,
  type VersionRow,
} from '@promptmill/infra/db';
import { type ChatMessage, chatMessageSchema, modelParamsSchema } from '@promptmill/workflows';
import {
  inferVariables,
  type ParsedTemplate,
  parseTemplate,
  TemplateSyntaxError,
  type VariableSpec,
} from '@promptmill/workflows/template';
import { z } from 'zod';
import { AppError, type ErrorDetail } from '../http/app-error.ts';
import { listBody, type Page } from '../http/pagination.ts';
import { renderVersion } from './compiled-versions.ts';

// ---------------------------------------------------------------------------------------------
// Who is asking: the organization, and the prompts a restricted key may touch.

/** The caller's view of the registry; an AuthContext is one. */
export interface PromptAccess {
  orgId: string;
  /** null = every prompt of the organization (the seeds' "agent-scoped keys" set a list). */
  promptIds: readonly string[] | null;
}

const UNIQUE_VIOLATION = '23505';
const isUniqueViolation = (err: unknown) => (err as { code?: unknown }).code === UNIQUE_VIOLATION;

const nameTaken = (name: string) => new AppError('CONFLICT', `A prompt named '${name}' already exists`);

function assertCanCreate(access: PromptAccess): void {
  if (access.promptIds !== null) {
    throw new AppError(
      'FORBIDDEN',
      'This API key is restricted to specific prompts and cannot create new ones',
    );
  }
}

// ---------------------------------------------------------------------------------------------
// Schemas (the routes validate with these and document them in OpenAPI).

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
    version: z.number().int().min(1).optional(),
    label: labelSchema.optional(),
    variables: z.record(z.string(), z.unknown()).default({}),
  })
  .strict()
  .refine((b) => b.version === undefined || b.label === undefined, {
    message: 'Give version or label, not both',
    path: ['label'],
  });
export type RenderBody = z.infer<typeof renderBodySchema>;

export const moveLabelBodySchema = z.object({ version: z.number().int().min(1) }).strict();

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

function toPromptDto(row: PromptRow, labels: Record<string, number>): PromptDto {
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

function toVersionDto(row: VersionRow, labels: string[]): VersionDto {
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

// ---------------------------------------------------------------------------------------------
// Prompts.

/** By id or name within the organization; no access check (runs and chains use this). */
export async function getPrompt(sql: Sql, orgId: string, idOrName: string): Promise<PromptRow> {
  const prompt = await findPrompt(sql, orgId, idOrName);
  if (!prompt) throw new AppError('PROMPT_NOT_FOUND', `Prompt '${idOrName}' not found`);
  return prompt;
}

/**
 * A prompt the caller may see: another organization's prompt is 404 (as if it did not exist); a
 * prompt of the same organization outside a restricted key's list is 403.
 */
export async function getAccessiblePrompt(
  sql: Sql,
  access: PromptAccess,
  idOrName: string,
): Promise<PromptRow> {
  const prompt = await getPrompt(sql, access.orgId, idOrName);
  if (access.promptIds !== null && !access.promptIds.includes(prompt.id)) {
    throw new AppError('FORBIDDEN', 'This API key is not allowed to use this prompt');
  }
  return prompt;
}

async function promptDto(sql: Sql, row: PromptRow): Promise<PromptDto> {
  const labels = await labelsByPrompt(sql, [row.id]);
  return toPromptDto(row, labels.get(row.id) ?? {});
}

const dedupe = (tags: readonly string[]) => [...new Set(tags)];

export async function createPrompt(
  sql: Sql,
  access: PromptAccess,
  input: CreatePromptInput,
): Promise<PromptDto> {
  assertCanCreate(access);
  try {
    const row = await insertPrompt(sql, {
      id: newId('prompt'),
      orgId: access.orgId,
      name: input.name,
      description: input.description,
      tags: dedupe(input.tags),
    });
    return toPromptDto(row, {});
  } catch (err) {
    if (isUniqueViolation(err)) throw nameTaken(input.name);
    throw err;
  }
}

export async function listPrompts(
  sql: Sql,
  access: PromptAccess,
  filter: z.infer<typeof listPromptsQuerySchema>,
  page: Page,
) {
  const tags = filter.tag === undefined ? [] : typeof filter.tag === 'string' ? [filter.tag] : filter.tag;
  const { rows, total } = await listPromptRows(sql, {
    orgId: access.orgId,
    promptIds: access.promptIds,
    tags,
    search: filter.search || undefined,
    limit: page.perPage,
    offset: page.offset,
  });
  const labels = await labelsByPrompt(
    sql,
    rows.map((r) => r.id),
  );
  return listBody(
    rows.map((r) => toPromptDto(r, labels.get(r.id) ?? {})),
    page,
    total,
  );
}

export async function getPromptDetails(sql: Sql, access: PromptAccess, idOrName: string): Promise<PromptDto> {
  return promptDto(sql, await getAccessiblePrompt(sql, access, idOrName));
}

export async function patchPrompt(
  sql: Sql,
  access: PromptAccess,
  idOrName: string,
  patch: PatchPromptInput,
): Promise<PromptDto> {
  const prompt = await getAccessiblePrompt(sql, access, idOrName);
  let row: PromptRow | undefined;
  try {
    row = await updatePrompt(sql, prompt.id, {
      name: patch.name,
      description: patch.description,
      tags: patch.tags === undefined ? undefined : dedupe(patch.tags),
    });
  } catch (err) {
    if (isUniqueViolation(err)) throw nameTaken(patch.name ?? prompt.name);
    throw err;
  }
  if (!row) throw new AppError('PROMPT_NOT_FOUND', `Prompt '${idOrName}' not found`);
  return promptDto(sql, row);
}

export async function deletePrompt(sql: Sql, access: PromptAccess, idOrName: string): Promise<void> {
  const prompt = await getAccessiblePrompt(sql, access, idOrName);
  if (!(await softDeletePrompt(sql, prompt.id))) {
    throw new AppError('PROMPT_NOT_FOUND', `Prompt '${idOrName}' not found`);
  }
}

// ---------------------------------------------------------------------------------------------
// Versions.

function parseOrThrow(source: string, field: string): ParsedTemplate {
  try {
    return parseTemplate(source);
  } catch (err) {
    if (err instanceof TemplateSyntaxError) {
      throw new AppError('INVALID_TEMPLATE', `${field}: ${err.message}`, {
        details: [{ field, message: `${err.reason} (line ${err.line}, column ${err.column})` }],
      });
    }
    throw err;
  }
}

/**
 * The contract a version is stored with. Without `variables`, it is inferred from the template.
 * With them, every variable the template uses must be declared (a declared variable the template
 * does not use is allowed: callers may send it to every version of the prompt alike).
 */
export function versionContract(
  parsed: readonly ParsedTemplate[],
  declared?: VariableSpec[],
): VariableSpec[] {
  const inferred = inferVariables(parsed);
  if (declared === undefined) return inferred;
  const details: ErrorDetail[] = [];
  const seen = new Set<string>();
  declared.forEach((spec, i) => {
    if (seen.has(spec.name)) {
      details.push({ field: `variables.${i}.name`, message: `Variable '${spec.name}' is declared twice` });
    }
    seen.add(spec.name);
  });
  const undeclared = inferred.filter((v) => !seen.has(v.name)).map((v) => v.name);
  for (const name of undeclared) {
    details.push({
      field: 'variables',
      message: `The template uses '${name}', which the variables contract does not declare`,
    });
  }
  if (details.length > 0) {
    const message =
      undeclared.length > 0
        ? `Variables used by the template but not declared: ${undeclared.join(', ')}`
        : 'Invalid variables contract';
    throw new AppError('VALIDATION_ERROR', message, { details });
  }
  return declared;
}

/** Parses every template of the input once (INVALID_TEMPLATE on the first bad one) → the row. */
function newVersionRow(promptId: string, input: CreateVersionInput): NewVersion {
  const parsed = input.messages?.map((m, i) => parseOrThrow(m.content, `messages.${i}.content`)) ?? [
    parseOrThrow(input.template ?? '', 'template'),
  ];
  return {
    id: newId('version'),
    promptId,
    template: input.template ?? null,
    messages: input.messages ?? null,
    model: input.model,
    params: input.params,
    fallbackModels: input.fallbackModels,
    variables: versionContract(parsed, input.variables),
    cacheTtlSeconds: input.cacheTtlSeconds,
    commitMessage: input.commitMessage,
  };
}

export async function createVersion(
  sql: Sql,
  access: PromptAccess,
  idOrName: string,
  input: CreateVersionInput,
): Promise<VersionDto> {
  const prompt = await getAccessiblePrompt(sql, access, idOrName);
  const labels = dedupe(input.labels);
  const version = await insertVersion(sql, newVersionRow(prompt.id, input), labels);
  if (!version) throw new AppError('PROMPT_NOT_FOUND', `Prompt '${idOrName}' not found`);
  return toVersionDto(version, labels.sort());
}

/** A prompt and its version 1 (with labels), all or nothing: the template library's `use`. */
export async function createPromptWithVersion(
  sql: Sql,
  access: PromptAccess,
  promptInput: CreatePromptInput,
  versionInput: CreateVersionInput,
): Promise<{ prompt: PromptDto; version: VersionDto }> {
  assertCanCreate(access);
  const promptId = newId('prompt');
  const versionRow = newVersionRow(promptId, versionInput);
  const labels = dedupe(versionInput.labels).sort();
  try {
    return (await sql.begin(async (tx) => {
      await insertPrompt(tx, {
        id: promptId,
        orgId: access.orgId,
        name: promptInput.name,
        description: promptInput.description,
        tags: dedupe(promptInput.tags),
      });
      const version = await appendVersion(tx, versionRow, labels);
      const prompt = await findPrompt(tx, access.orgId, promptId);
      return {
        prompt: toPromptDto(prompt!, Object.fromEntries(labels.map((l) => [l, version!.version]))),
        version: toVersionDto(version!, labels),
      };
    })) as { prompt: PromptDto; version: VersionDto };
  } catch (err) {
    if (isUniqueViolation(err)) throw nameTaken(promptInput.name);
    throw err;
  }
}

export async function listVersions(sql: Sql, access: PromptAccess, idOrName: string, page: Page) {
  const prompt = await getAccessiblePrompt(sql, access, idOrName);
  const [{ rows, total }, labels] = await Promise.all([
    listVersionRows(sql, prompt.id, { limit: page.perPage, offset: page.offset }),
    listLabels(sql, prompt.id),
  ]);
  return listBody(
    rows.map((r) =>
      toVersionDto(
        r,
        labels.filter((l) => l.versionId === r.id).map((l) => l.label),
      ),
    ),
    page,
    total,
  );
}

export async function getVersion(
  sql: Sql,
  access: PromptAccess,
  idOrName: string,
  versionNumber: number,
): Promise<VersionDto> {
  const prompt = await getAccessiblePrompt(sql, access, idOrName);
  const [version, labels] = await Promise.all([
    findVersionByNumber(sql, prompt.id, versionNumber),
    listLabels(sql, prompt.id),
  ]);
  if (!version) throw versionNotFound(idOrName, { version: versionNumber });
  return toVersionDto(
    version,
    labels.filter((l) => l.versionId === version.id).map((l) => l.label),
  );
}

// ---------------------------------------------------------------------------------------------
// Labels.

/** Labels by name; a prompt has few, so the page is cut in memory. */
export async function listPromptLabels(sql: Sql, access: PromptAccess, idOrName: string, page: Page) {
  const prompt = await getAccessiblePrompt(sql, access, idOrName);
  const labels = await listLabels(sql, prompt.id);
  return listBody(labels.slice(page.offset, page.offset + page.perPage), page, labels.length);
}

/** Points a label at a version in one statement: readers see the old or the new target, never none. */
export async function moveLabel(
  sql: Sql,
  access: PromptAccess,
  idOrName: string,
  label: string,
  versionNumber: number,
): Promise<{ label: string; version: number; versionId: string }> {
  const prompt = await getAccessiblePrompt(sql, access, idOrName);
  const version = await findVersionByNumber(sql, prompt.id, versionNumber);
  if (!version) throw versionNotFound(idOrName, { version: versionNumber });
  await setLabel(sql, prompt.id, label, version.id);
  return { label, version: version.version, versionId: version.id };
}

export async function removeLabel(
  sql: Sql,
  access: PromptAccess,
  idOrName: string,
  label: string,
): Promise<void> {
  const prompt = await getAccessiblePrompt(sql, access, idOrName);
  if (!(await deleteLabel(sql, prompt.id, label))) {
    throw new AppError('LABEL_NOT_FOUND', `Prompt '${idOrName}' has no label '${label}'`);
  }
}

// ---------------------------------------------------------------------------------------------
// Resolving and rendering.

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

/** Seed 000's message for a prompt that cannot be run by name. */
export function noProductionVersion(name: string): AppError {
  return new AppError('PROMPT_NOT_FOUND', `Prompt '${name}' not found or has no PRODUCTION version`);
}

/**
 * The error for a selector that matched nothing: an explicit version or label → VERSION_NOT_FOUND;
 * the implicit `production` → the seed's PROMPT_NOT_FOUND message.
 */
export function versionNotFound(name: string, selector: VersionSelector): AppError {
  if (selector.version !== undefined) {
    return new AppError('VERSION_NOT_FOUND', `Prompt '${name}' has no version ${selector.version}`);
  }
  if (selector.label !== undefined && selector.label !== 'production') {
    return new AppError('VERSION_NOT_FOUND', `Prompt '${name}' has no version labelled '${selector.label}'`);
  }
  return noProductionVersion(name);
}

/** What a run of this version would send, without calling a model. */
export async function renderPrompt(
  sql: Sql,
  access: PromptAccess,
  idOrName: string,
  body: RenderBody,
): Promise<RenderResult> {
  const prompt = await getAccessiblePrompt(sql, access, idOrName);
  const version = await resolveVersion(sql, prompt, body);
  if (!version) throw versionNotFound(idOrName, body);
  const messages: ChatMessage[] = renderVersion(version, body.variables);
  return {
    promptId: prompt.id,
    version: version.version,
    versionId: version.id,
    model: version.model,
    fallbackModels: version.fallbackModels,
    params: version.params,
    ...(version.messages === null ? { content: messages[0]?.content ?? '' } : { messages }),
  };
}
