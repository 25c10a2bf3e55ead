/**
 * Prompt files: one `<name>.prompt.md` per prompt, YAML front matter for what is not the text (name,
 * description, tags, model, params, fallbackModels, variables, cacheTtlSeconds, labels), the template
 * or the chat messages as the body. A chat body is split by role lines (`::: system`, `::: user`,
 * `::: assistant`); messages whose text has such a line are kept in the front matter instead, so
 * every prompt round-trips exactly. The body's last newline is the file's, not the prompt's.
 */
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { ChatMessage, CreateVersionParams, Prompt, PromptVersion } from '@promptmill/sdk';
import { parse as parseYaml, stringify as stringifyYaml } from 'yaml';
import { CliError } from './cli-error.ts';

export const PROMPT_FILE_SUFFIX = '.prompt.md';
const ROLE_LINE = /^::: (system|user|assistant)[ \t]*$/;
const ROLES = new Set(['system', 'user', 'assistant']);

/** What a prompt file says: the prompt's own fields and the content of the version it wants. */
export interface PromptFile {
  name: string;
  description: string;
  tags: string[];
  labels: string[];
  version: {
    template?: string;
    messages?: ChatMessage[];
    model: string;
    params: Record<string, unknown>;
    fallbackModels: string[];
    /** absent: the api infers the contract from the template */
    variables?: Array<{ name: string; required: boolean; default?: string; description?: string }>;
    cacheTtlSeconds: number | null;
  };
}

/** The file name for a prompt name (characters outside [A-Za-z0-9._-] become `_`). */
export function fileNameFor(name: string): string {
  return `${name.replace(/[^A-Za-z0-9._-]/g, '_').replace(/^\.+/, '_')}${PROMPT_FILE_SUFFIX}`;
}

export function fromServer(prompt: Prompt, version: PromptVersion): PromptFile {
  return {
    name: prompt.name,
    description: prompt.description,
    tags: prompt.tags,
    labels: [...version.labels].sort(),
    version: {
      ...(version.template !== null ? { template: version.template } : {}),
      ...(version.messages !== null ? { messages: version.messages } : {}),
      model: version.model,
      params: version.params as Record<string, unknown>,
      fallbackModels: version.fallbackModels,
      variables: version.variables.map((v) => ({
        name: v.name,
        required: v.required,
        ...(v.default !== undefined ? { default: v.default } : {}),
        ...(v.description !== undefined ? { description: v.description } : {}),
      })),
      cacheTtlSeconds: version.cacheTtlSeconds,
    },
  };
}

export function serializePromptFile(file: PromptFile): string {
  const v = file.version;
  const messagesInBody =
    v.messages?.every((m) => !m.content.split('\n').some((l) => ROLE_LINE.test(l))) ?? false;
  const front: Record<string, unknown> = {
    name: file.name,
    ...(file.description ? { description: file.description } : {}),
    ...(file.tags.length ? { tags: file.tags } : {}),
    type: v.messages ? 'chat' : 'text',
    model: v.model,
    ...(Object.keys(v.params).length ? { params: v.params } : {}),
    ...(v.fallbackModels.length ? { fallbackModels: v.fallbackModels } : {}),
    ...(v.variables ? { variables: v.variables } : {}),
    ...(v.cacheTtlSeconds !== null ? { cacheTtlSeconds: v.cacheTtlSeconds } : {}),
    labels: file.labels,
    ...(v.messages && !messagesInBody ? { messages: v.messages } : {}),
  };
  const body = v.messages
    ? messagesInBody
      ? v.messages.map((m) => `::: ${m.role}\n${m.content}\n`).join('')
      : ''
    : `${v.template ?? ''}\n`;
  return `---\n${stringifyYaml(front, { lineWidth: 0 })}---\n${body}`;
}

function asStringArray(v: unknown, field: string, where: string): string[] {
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v) || v.some((x) => typeof x !== 'string')) {
    throw new CliError(`${where}: ${field} must be a list of strings`);
  }
  return v as string[];
}

function parseMessagesBody(body: string, where: string): ChatMessage[] {
  const messages: ChatMessage[] = [];
  let current: { role: ChatMessage['role']; lines: string[] } | undefined;
  const lines = body.split('\n');
  if (lines.at(-1) === '') lines.pop();
  for (const line of lines) {
    const m = ROLE_LINE.exec(line);
    if (m) {
      if (current) messages.push({ role: current.role, content: current.lines.join('\n') });
      current = { role: m[1] as ChatMessage['role'], lines: [] };
    } else if (current) current.lines.push(line);
    else if (line.trim())
      throw new CliError(`${where}: a chat body starts with a role line such as '::: system'`);
  }
  if (current) messages.push({ role: current.role, content: current.lines.join('\n') });
  return messages;
}

export function parsePromptFile(text: string, where: string): PromptFile {
  const normalized = text.replace(/\r\n/g, '\n');
  const m = /^---\n([\s\S]*?)\n?---\n?([\s\S]*)$/.exec(normalized);
  if (!m) throw new CliError(`${where}: no front matter (the file starts with a '---' line)`);
  let front: Record<string, unknown>;
  try {
    const parsed: unknown = parseYaml(m[1]!);
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed))
      throw new Error('not a mapping');
    front = parsed as Record<string, unknown>;
  } catch (err) {
    throw new CliError(`${where}: front matter is not YAML: ${(err as Error).message.split('\n')[0]}`);
  }
  const body = m[2]!;
  if (typeof front.name !== 'string' || !front.name.trim())
    throw new CliError(`${where}: 'name' is required`);
  if (typeof front.model !== 'string' || !front.model.trim())
    throw new CliError(`${where}: 'model' is required`);
  const firstLine = body.split('\n').find((l) => l.trim()) ?? '';
  const type = front.type ?? (ROLE_LINE.test(firstLine) ? 'chat' : 'text');
  if (type !== 'chat' && type !== 'text') throw new CliError(`${where}: type must be chat or text`);
  let messages: ChatMessage[] | undefined;
  let template: string | undefined;
  if (type === 'chat') {
    if (front.messages !== undefined) {
      if (!Array.isArray(front.messages)) throw new CliError(`${where}: messages must be a list`);
      messages = front.messages.map((raw, i) => {
        const msg = raw as { role?: unknown; content?: unknown };
        if (typeof msg?.role !== 'string' || !ROLES.has(msg.role) || typeof msg.content !== 'string') {
          throw new CliError(`${where}: messages[${i}] needs a role (system, user, assistant) and a content`);
        }
        return { role: msg.role as ChatMessage['role'], content: msg.content };
      });
    } else messages = parseMessagesBody(body, where);
    if (messages.length === 0) throw new CliError(`${where}: a chat prompt needs at least one message`);
  } else {
    template = body.endsWith('\n') ? body.slice(0, -1) : body;
  }
  const params = front.params ?? {};
  if (typeof params !== 'object' || params === null || Array.isArray(params)) {
    throw new CliError(`${where}: params must be a mapping`);
  }
  const ttl = front.cacheTtlSeconds ?? null;
  if (ttl !== null && typeof ttl !== 'number')
    throw new CliError(`${where}: cacheTtlSeconds must be a number`);
  let variables: PromptFile['version']['variables'];
  if (front.variables !== undefined && front.variables !== null) {
    if (!Array.isArray(front.variables)) throw new CliError(`${where}: variables must be a list`);
    variables = front.variables.map((raw, i) => {
      const v = (typeof raw === 'string' ? { name: raw } : raw) as Record<string, unknown>;
      if (typeof v?.name !== 'string') throw new CliError(`${where}: variables[${i}] needs a name`);
      return {
        name: v.name,
        required: v.required === undefined ? true : Boolean(v.required),
        ...(v.default !== undefined ? { default: String(v.default) } : {}),
        ...(typeof v.description === 'string' ? { description: v.description } : {}),
      };
    });
  }
  return {
    name: front.name,
    description: typeof front.description === 'string' ? front.description : '',
    tags: asStringArray(front.tags, 'tags', where),
    labels: asStringArray(front.labels, 'labels', where),
    version: {
      ...(template !== undefined ? { template } : {}),
      ...(messages !== undefined ? { messages } : {}),
      model: front.model,
      params: params as Record<string, unknown>,
      fallbackModels: asStringArray(front.fallbackModels, 'fallbackModels', where),
      ...(variables ? { variables } : {}),
      cacheTtlSeconds: ttl as number | null,
    },
  };
}

/** Every prompt file in a folder, by prompt name. */
export async function readPromptDir(dir: string): Promise<Map<string, { path: string; file: PromptFile }>> {
  let names: string[];
  try {
    names = (await readdir(dir)).filter((n) => n.endsWith(PROMPT_FILE_SUFFIX)).sort();
  } catch {
    throw new CliError(`Cannot read the prompt folder ${dir}`);
  }
  const out = new Map<string, { path: string; file: PromptFile }>();
  for (const n of names) {
    const path = join(dir, n);
    const file = parsePromptFile(await readFile(path, 'utf8'), path);
    const seen = out.get(file.name);
    if (seen) throw new CliError(`${path}: prompt '${file.name}' is also in ${seen.path}`);
    out.set(file.name, { path, file });
  }
  return out;
}

function canonical(value: unknown): string {
  return JSON.stringify(value, (_k, v: unknown) =>
    v && typeof v === 'object' && !Array.isArray(v)
      ? Object.fromEntries(
          Object.entries(v as Record<string, unknown>).sort(([a], [b]) => a.localeCompare(b)),
        )
      : v,
  );
}

/** Whether a file's version content differs from a stored version (labels and prompt fields aside). */
export function contentDiffers(file: PromptFile, stored: PromptVersion): boolean {
  const theirs = fromServer({ name: '', description: '', tags: [] } as unknown as Prompt, stored).version;
  const ours = { ...file.version };
  if (!ours.variables) delete theirs.variables; // the file leaves the contract to the api's inference
  return canonical(ours) !== canonical(theirs);
}

/** The body of `POST /v1/prompts/:name/versions` for a file. */
export function versionParams(file: PromptFile, commitMessage?: string): CreateVersionParams {
  const v = file.version;
  return {
    ...(v.template !== undefined ? { template: v.template } : {}),
    ...(v.messages !== undefined ? { messages: v.messages } : {}),
    model: v.model,
    params: v.params,
    fallbackModels: v.fallbackModels,
    ...(v.variables ? { variables: v.variables } : {}),
    cacheTtlSeconds: v.cacheTtlSeconds,
    labels: file.labels,
    ...(commitMessage ? { commitMessage } : {}),
  };
}
