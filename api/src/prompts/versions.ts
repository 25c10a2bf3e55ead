import { newId } from '@promptmill/infra';
import {
  appendVersion,
  findPrompt,
  findVersionByLabel,
  findVersionByNumber,
  insertPrompt,
  insertVersion,
  listLabels,
  listVersions as listVersionRows,
  type NewVersion,
  type PromptRow,
  type Sql,
  type VersionRow,
} from '@promptmill/infra/db';
import {
  inferVariables,
  type ParsedTemplate,
  parseTemplate,
  TemplateSyntaxError,
  type VariableSpec,
} from '@promptmill/workflows/template';
import { AppError, type ErrorDetail } from '../http/app-error.ts';
import { listBody, type Page } from '../http/pagination.ts';
import {
  type CreatePromptInput,
  type CreateVersionInput,
  type PromptDto,
  toPromptDto,
  toVersionDto,
  type VersionDto,
} from './prompts.schemas.ts';
import {
  assertCanCreate,
  dedupe,
  getAccessiblePrompt,
  isUniqueViolation,
  nameTaken,
  type PromptAccess,
} from './prompts.ts';
import { promptChanged } from './run-prompt-cache.ts';

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
  promptChanged(sql, prompt.id);
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
        orgId: access.org.id,
        name: promptInput.name,
        description: promptInput.description,
        tags: dedupe(promptInput.tags),
      });
      const version = await appendVersion(tx, versionRow, labels);
      const prompt = await findPrompt(tx, access.org.id, promptId);
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
