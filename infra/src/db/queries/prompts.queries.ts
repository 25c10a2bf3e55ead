import type { ChatMessage, ModelParams } from '@promptmill/workflows';
import type { Queryable, Sql } from '../client.ts';

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

/** Appends the next version number atomically (the prompt row is locked while numbering). */
export async function insertVersion(sql: Sql, v: NewVersion): Promise<VersionRow> {
  return sql.begin(async (tx) => {
    const [p] = await tx<{ next: number }[]>`
      UPDATE prompts SET latest_version = latest_version + 1, updated_at = now()
      WHERE id = ${v.promptId} RETURNING latest_version AS next`;
    const [row] = await tx<VersionRow[]>`
      INSERT INTO prompt_versions AS v (id, prompt_id, version, template, messages, model, params,
        fallback_models, variables, cache_ttl_seconds, commit_message)
      VALUES (${v.id}, ${v.promptId}, ${p!.next}, ${v.template},
        ${v.messages === null ? null : tx.json(v.messages)}, ${v.model}, ${tx.json(v.params as Record<string, never>)},
        ${v.fallbackModels}, ${tx.json(v.variables as unknown as Record<string, never>[])}, ${v.cacheTtlSeconds}, ${v.commitMessage})
      RETURNING ${VERSION_COLUMNS(tx)}`;
    return row!;
  }) as Promise<VersionRow>;
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
