import { newId } from '@promptmill/infra';
import {
  findPrompt,
  insertPrompt,
  labelsByPrompt,
  listPrompts as listPromptRows,
  type PromptRow,
  type Sql,
  softDeletePrompt,
  updatePrompt,
} from '@promptmill/infra/db';
import type { z } from 'zod';
import { assertPromptAllowed, type PromptRestricted } from '../auth/scopes.ts';
import { AppError } from '../http/app-error.ts';
import { listBody, type Page } from '../http/pagination.ts';
import {
  type CreatePromptInput,
  type listPromptsQuerySchema,
  type PatchPromptInput,
  type PromptDto,
  toPromptDto,
} from './prompts.schemas.ts';
import { promptChanged } from './run-prompt-cache.ts';

// ---------------------------------------------------------------------------------------------
// Who is asking: the organization, and the prompts a restricted key may touch.

/** The caller's view of the registry; an AuthContext is one. */
export interface PromptAccess extends PromptRestricted {
  org: { id: string };
}

export const UNIQUE_VIOLATION = '23505';
export const isUniqueViolation = (err: unknown) => (err as { code?: unknown }).code === UNIQUE_VIOLATION;

export const nameTaken = (name: string) =>
  new AppError('CONFLICT', `A prompt named '${name}' already exists`);

export function assertCanCreate(access: PromptAccess): void {
  if (access.key.promptIds !== null) {
    throw new AppError(
      'FORBIDDEN',
      'This API key is restricted to specific prompts and cannot create new ones',
    );
  }
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
  const prompt = await getPrompt(sql, access.org.id, idOrName);
  assertPromptAllowed(access, prompt.id);
  return prompt;
}

async function promptDto(sql: Sql, row: PromptRow): Promise<PromptDto> {
  const labels = await labelsByPrompt(sql, [row.id]);
  return toPromptDto(row, labels.get(row.id) ?? {});
}

export const dedupe = (tags: readonly string[]) => [...new Set(tags)];

export async function createPrompt(
  sql: Sql,
  access: PromptAccess,
  input: CreatePromptInput,
): Promise<PromptDto> {
  assertCanCreate(access);
  try {
    const row = await insertPrompt(sql, {
      id: newId('prompt'),
      orgId: access.org.id,
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
    orgId: access.org.id,
    promptIds: access.key.promptIds,
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
  promptChanged(sql, prompt.id);
  if (!row) throw new AppError('PROMPT_NOT_FOUND', `Prompt '${idOrName}' not found`);
  return promptDto(sql, row);
}

export async function deletePrompt(sql: Sql, access: PromptAccess, idOrName: string): Promise<void> {
  const prompt = await getAccessiblePrompt(sql, access, idOrName);
  const isDeleted = await softDeletePrompt(sql, prompt.id);
  promptChanged(sql, prompt.id);
  if (!isDeleted) {
    throw new AppError('PROMPT_NOT_FOUND', `Prompt '${idOrName}' not found`);
  }
}
