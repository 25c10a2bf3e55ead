import type { ChatMessage, ModelParams } from '@promptmill/workflows';
import type { Queryable, Sql, TransactionSql } from '../client.ts';

export interface PromptRow {
  id: string;
  orgId: string;
  name: string;
  description: string;
  tags: string[];
  latestVersion: number;
  createdAt: Date;
  updatedAt: Date;
}

export interface VariableSpecRow {
  name: string;
  required: boolean;
  default?: string;
  description?: string;
}

export interface VersionRow {
  id: string;
  promptId: string;
  version: number;
  template: string | null;
  messages: ChatMessage[] | null;
  model: string;
  params: ModelParams;
  fallbackModels: string[];
  variables: VariableSpecRow[];
  cacheTtlSeconds: number | null;
  commitMessage: string | null;
  createdAt: Date;
}

export const PROMPT_COLUMNS = (sql: Queryable) => sql`
  id, org_id AS "orgId", name, description, tags, latest_version AS "latestVersion",
  created_at AS "createdAt", updated_at AS "updatedAt"`;

export const VERSION_COLUMNS = (sql: Queryable) => sql`
  v.id, v.prompt_id AS "promptId", v.version, v.template, v.messages, v.model, v.params,
  v.fallback_models AS "fallbackModels", v.variables, v.cache_ttl_seconds AS "cacheTtlSeconds",
  v.commit_message AS "commitMessage", v.created_at AS "createdAt"`;

export async function insertPrompt(
  sql: Queryable,
  p: { id: string; orgId: string; name: string; description: string; tags: string[] },
): Promise<PromptRow> {
  const [row] = await sql<PromptRow[]>`
    INSERT INTO prompts (id, org_id, name, description, tags)
    VALUES (${p.id}, ${p.orgId}, ${p.name}, ${p.description}, ${p.tags})
    RETURNING ${PROMPT_COLUMNS(sql)}`;
  return row!;
}

/** By id (`pmt_…`) or by name, within one organization; deleted prompts are not found. */
export async function findPrompt(
  sql: Queryable,
  orgId: string,
  idOrName: string,
): Promise<PromptRow | undefined> {
  const [row] = await sql<PromptRow[]>`
    SELECT ${PROMPT_COLUMNS(sql)} FROM prompts
    WHERE org_id = ${orgId} AND deleted_at IS NULL AND (id = ${idOrName} OR name = ${idOrName})
    ORDER BY (id = ${idOrName}) DESC
    LIMIT 1`;
  return row;
}

export interface NewVersion {
  id: string;
  promptId: string;
  template: string | null;
  messages: ChatMessage[] | null;
  model: string;
  params: ModelParams;
  fallbackModels: string[];
  variables: VariableSpecRow[];
  cacheTtlSeconds: number | null;
  commitMessage: string | null;
}

/**
 * Appends the next version number and points `labels` at it, in one transaction. The UPDATE locks
 * the prompt row, so concurrent creates on one prompt are numbered 1, 2, 3… without gaps or
 * duplicates; undefined when the prompt does not exist (or was deleted meanwhile).
 */
export async function insertVersion(
  sql: Sql,
  v: NewVersion,
  labels: readonly string[] = [],
): Promise<VersionRow | undefined> {
  return sql.begin((tx) => appendVersion(tx, v, labels)) as Promise<VersionRow | undefined>;
}

/** insertVersion's body, for callers that already hold a transaction (e.g. prompt + version 1). */
export async function appendVersion(
  tx: TransactionSql,
  v: NewVersion,
  labels: readonly string[] = [],
): Promise<VersionRow | undefined> {
  const [p] = await tx<{ next: number }[]>`
    UPDATE prompts SET latest_version = latest_version + 1, updated_at = now()
    WHERE id = ${v.promptId} AND deleted_at IS NULL RETURNING latest_version AS next`;
  if (!p) return undefined;
  const [row] = await tx<VersionRow[]>`
    INSERT INTO prompt_versions AS v (id, prompt_id, version, template, messages, model, params,
      fallback_models, variables, cache_ttl_seconds, commit_message)
    VALUES (${v.id}, ${v.promptId}, ${p.next}, ${v.template},
      ${v.messages === null ? null : tx.json(v.messages)}, ${v.model}, ${tx.json(v.params as Record<string, never>)},
      ${v.fallbackModels}, ${tx.json(v.variables as unknown as Record<string, never>[])}, ${v.cacheTtlSeconds}, ${v.commitMessage})
    RETURNING ${VERSION_COLUMNS(tx)}`;
  for (const label of labels) await setLabel(tx, v.promptId, label, row!.id);
  return row;
}

export interface PromptListFilter {
  orgId: string;
  /** A prompt-restricted key sees only these; null = every prompt of the organization. */
  promptIds: readonly string[] | null;
  /** Every tag must be present. */
  tags: readonly string[];
  /** Case-insensitive substring of the name. */
  search: string | undefined;
  limit: number;
  offset: number;
}

const escapeLike = (text: string) => text.replace(/[\\%_]/g, (c) => `\\${c}`);

/** Newest first (ties by id); total counts every match, not just the page. */
export async function listPrompts(
  sql: Queryable,
  f: PromptListFilter,
): Promise<{ rows: PromptRow[]; total: number }> {
  const where = () => sql`
    org_id = ${f.orgId} AND deleted_at IS NULL
    ${f.promptIds === null ? sql`` : sql`AND id = ANY(${f.promptIds as string[]}::text[])`}
    ${f.tags.length > 0 ? sql`AND tags @> ${f.tags as string[]}::text[]` : sql``}
    ${f.search ? sql`AND name ILIKE ${`%${escapeLike(f.search)}%`}` : sql``}`;
  const [rows, [count]] = await Promise.all([
    sql<PromptRow[]>`
      SELECT ${PROMPT_COLUMNS(sql)} FROM prompts WHERE ${where()}
      ORDER BY created_at DESC, id DESC LIMIT ${f.limit} OFFSET ${f.offset}`,
    sql<{ total: number }[]>`SELECT count(*)::int AS total FROM prompts WHERE ${where()}`,
  ]);
  return { rows, total: count?.total ?? 0 };
}

export async function updatePrompt(
  sql: Queryable,
  id: string,
  patch: { name?: string | undefined; description?: string | undefined; tags?: string[] | undefined },
): Promise<PromptRow | undefined> {
  const [row] = await sql<PromptRow[]>`
    UPDATE prompts SET
      name = COALESCE(${patch.name ?? null}, name),
      description = COALESCE(${patch.description ?? null}, description),
      tags = COALESCE(${patch.tags ?? null}::text[], tags),
      updated_at = now()
    WHERE id = ${id} AND deleted_at IS NULL
    RETURNING ${PROMPT_COLUMNS(sql)}`;
  return row;
}

/** Soft delete: the name is free again; runs keep pointing at the row. */
export async function softDeletePrompt(sql: Queryable, id: string): Promise<boolean> {
  const rows = await sql`UPDATE prompts SET deleted_at = now() WHERE id = ${id} AND deleted_at IS NULL`;
  return rows.count > 0;
}

/** Newest version first; total is the number of versions. */
export async function listVersions(
  sql: Queryable,
  promptId: string,
  page: { limit: number; offset: number },
): Promise<{ rows: VersionRow[]; total: number }> {
  const [rows, [count]] = await Promise.all([
    sql<VersionRow[]>`
      SELECT ${VERSION_COLUMNS(sql)} FROM prompt_versions v WHERE v.prompt_id = ${promptId}
      ORDER BY v.version DESC LIMIT ${page.limit} OFFSET ${page.offset}`,
    sql<{ total: number }[]>`
      SELECT count(*)::int AS total FROM prompt_versions WHERE prompt_id = ${promptId}`,
  ]);
  return { rows, total: count?.total ?? 0 };
}

export interface LabelRow {
  label: string;
  version: number;
  versionId: string;
  updatedAt: Date;
}

/** Every label of a prompt, by name. */
export async function listLabels(sql: Queryable, promptId: string): Promise<LabelRow[]> {
  return sql<LabelRow[]>`
    SELECT l.label, v.version, l.version_id AS "versionId", l.updated_at AS "updatedAt"
    FROM prompt_labels l JOIN prompt_versions v ON v.id = l.version_id
    WHERE l.prompt_id = ${promptId}
    ORDER BY l.label`;
}

/** Labels of several prompts at once (list pages): prompt id → label → version number. */
export async function labelsByPrompt(
  sql: Queryable,
  promptIds: readonly string[],
): Promise<Map<string, Record<string, number>>> {
  const out = new Map<string, Record<string, number>>();
  if (promptIds.length === 0) return out;
  const rows = await sql<{ promptId: string; label: string; version: number }[]>`
    SELECT l.prompt_id AS "promptId", l.label, v.version
    FROM prompt_labels l JOIN prompt_versions v ON v.id = l.version_id
    WHERE l.prompt_id = ANY(${promptIds as string[]}::text[])
    ORDER BY l.label`;
  for (const r of rows) {
    const labels = out.get(r.promptId) ?? {};
    labels[r.label] = r.version;
    out.set(r.promptId, labels);
  }
  return out;
}

export async function deleteLabel(sql: Queryable, promptId: string, label: string): Promise<boolean> {
  const rows = await sql`DELETE FROM prompt_labels WHERE prompt_id = ${promptId} AND label = ${label}`;
  return rows.count > 0;
}

export async function findVersionByNumber(
  sql: Queryable,
  promptId: string,
  version: number,
): Promise<VersionRow | undefined> {
  const [row] = await sql<VersionRow[]>`
    SELECT ${VERSION_COLUMNS(sql)} FROM prompt_versions v WHERE v.prompt_id = ${promptId} AND v.version = ${version}`;
  return row;
}

/**
 * A prompt (by id or name, as findPrompt) and the version a run selects — an explicit number, else
 * a label — in one statement: undefined when the prompt is not found, `version` undefined when the
 * selector matches nothing. What findPrompt + findVersionByNumber / findVersionByLabel return.
 */
export async function findPromptWithVersion(
  sql: Queryable,
  orgId: string,
  idOrName: string,
  selector: { version?: number | undefined; label: string },
): Promise<{ prompt: PromptRow; version: VersionRow | undefined } | undefined> {
  const version =
    selector.version !== undefined
      ? sql`SELECT ${VERSION_COLUMNS(sql)} FROM prompt_versions v
            WHERE v.prompt_id = p.id AND v.version = ${selector.version}`
      : sql`SELECT ${VERSION_COLUMNS(sql)} FROM prompt_labels l JOIN prompt_versions v ON v.id = l.version_id
            WHERE l.prompt_id = p.id AND l.label = ${selector.label}`;
  const [row] = await sql<
    (Omit<PromptRow, 'id' | 'createdAt'> & {
      promptId: string;
      promptCreatedAt: Date;
      version: (Omit<VersionRow, 'createdAt'> & { createdAt: string }) | null;
    })[]
  >`
    SELECT p.id AS "promptId", p.org_id AS "orgId", p.name, p.description, p.tags,
           p.latest_version AS "latestVersion", p.created_at AS "promptCreatedAt", p.updated_at AS "updatedAt",
           (SELECT to_jsonb(s) FROM (${version}) s) AS version
    FROM prompts p
    WHERE p.org_id = ${orgId} AND p.deleted_at IS NULL AND (p.id = ${idOrName} OR p.name = ${idOrName})
    ORDER BY (p.id = ${idOrName}) DESC
    LIMIT 1`;
  if (!row) return undefined;
  const { promptId, promptCreatedAt, version: v, ...rest } = row;
  return {
    prompt: { id: promptId, createdAt: promptCreatedAt, ...rest },
    version: v ? { ...v, createdAt: new Date(v.createdAt) } : undefined,
  };
}

export async function findVersionByLabel(
  sql: Queryable,
  promptId: string,
  label: string,
): Promise<VersionRow | undefined> {
  const [row] = await sql<VersionRow[]>`
    SELECT ${VERSION_COLUMNS(sql)} FROM prompt_labels l JOIN prompt_versions v ON v.id = l.version_id
    WHERE l.prompt_id = ${promptId} AND l.label = ${label}`;
  return row;
}

export async function setLabel(
  sql: Queryable,
  promptId: string,
  label: string,
  versionId: string,
): Promise<void> {
  await sql`
    INSERT INTO prompt_labels (prompt_id, label, version_id) VALUES (${promptId}, ${label}, ${versionId})
    ON CONFLICT (prompt_id, label) DO UPDATE SET version_id = EXCLUDED.version_id, updated_at = now()`;
}

/** A version by its id (a chain run pins the versions its steps resolved when it started). */
export async function findVersionById(
  sql: Queryable,
  promptId: string,
  versionId: string,
): Promise<VersionRow | undefined> {
  const [row] = await sql<VersionRow[]>`
    SELECT ${VERSION_COLUMNS(sql)} FROM prompt_versions v WHERE v.prompt_id = ${promptId} AND v.id = ${versionId}`;
  return row;
}
