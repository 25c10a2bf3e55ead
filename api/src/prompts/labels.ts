import { deleteLabel, findVersionByNumber, listLabels, type Sql, setLabel } from '@promptmill/infra/db';
import { AppError } from '../http/app-error.ts';
import { listBody, type Page } from '../http/pagination.ts';
import { getAccessiblePrompt, type PromptAccess } from './prompts.ts';
import { promptChanged } from './run-prompt-cache.ts';
import { versionNotFound } from './versions.ts';

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
  promptChanged(sql, prompt.id);
  return { label, version: version.version, versionId: version.id };
}

export async function removeLabel(
  sql: Sql,
  access: PromptAccess,
  idOrName: string,
  label: string,
): Promise<void> {
  const prompt = await getAccessiblePrompt(sql, access, idOrName);
  const isDeleted = await deleteLabel(sql, prompt.id, label);
  promptChanged(sql, prompt.id);
  if (!isDeleted) {
    throw new AppError('LABEL_NOT_FOUND', `Prompt '${idOrName}' has no label '${label}'`);
  }
}
