/**
 * What a run resolves before it renders — its prompt, and the version its selector picks (a number,
 * or a label) — cached per api process, so a run of a prompt that ran a moment ago reads neither.
 *
 * Versions never change. What does — a label moves or goes, a new version takes a label, the
 * prompt is renamed or deleted — is announced by triggers when it commits (migration 012,
 * PromptChanges), and this process drops the prompt's entries when it hears of it, so a change is
 * seen by the next run here. Another api process may still answer with what it had for the
 * moment the NOTIFY takes to reach it (well under a millisecond on one host): as if that run had
 * come a moment earlier. Entries also expire after ENTRY_TTL_MS, which bounds how long a listener
 * that died silently can serve an old label; while this process is not listening, nothing is cached.
 */
import {
  findPromptWithVersion,
  type PromptRow,
  promptChangesFor,
  type Sql,
  type VersionRow,
} from '@promptmill/infra/db';
import type { VersionSelector } from './versions.ts';

export interface RunPrompt {
  prompt: PromptRow;
  /** undefined: the prompt has no such version or label */
  version: VersionRow | undefined;
}

/** How long an entry may be served without hearing of a change. */
export const ENTRY_TTL_MS = 5_000;
const MAX_ENTRIES = 2_000;
/** Templates can be large: the entries together keep at most this many characters of them. */
const MAX_CHARS = 32_000_000;

interface Entry {
  promptId: string;
  value: RunPrompt;
  expiresAt: number;
  chars: number;
}

interface Cache {
  entries: Map<string, Entry>;
  chars: number;
  /** moves on every change heard: a read that overlapped one is not cached */
  generation: number;
  isListening: boolean;
  starting: Promise<void> | undefined;
}

const caches = new WeakMap<Sql, Cache>();

function cacheFor(sql: Sql): Cache {
  let cache = caches.get(sql);
  if (!cache) {
    const created: Cache = {
      entries: new Map(),
      chars: 0,
      generation: 0,
      isListening: false,
      starting: undefined,
    };
    promptChangesFor(sql).subscribe((promptId) => {
      created.generation++;
      if (promptId === undefined) {
        created.entries.clear(); // (re)listening: whatever changed meanwhile is unknown
        return;
      }
      for (const [key, entry] of created.entries)
        if (entry.promptId === promptId) created.entries.delete(key);
    });
    cache = created;
    caches.set(sql, cache);
  }
  if (!cache.isListening && !cache.starting) {
    const c = cache;
    c.starting = promptChangesFor(sql)
      .ready()
      .then(
        () => {
          c.isListening = true;
        },
        () => {
          c.starting = undefined; // try again on a later run
        },
      );
  }
  return cache;
}

/** Drops a prompt's entries (undefined: every entry); a read that overlapped this is not cached. */
function forgetPrompt(cache: Cache, promptId: string | undefined): void {
  cache.generation++;
  if (promptId === undefined) {
    cache.entries.clear();
    cache.chars = 0;
    return;
  }
  for (const [key, entry] of cache.entries) if (entry.promptId === promptId) forget(cache, key);
}

/**
 * Called by this process's own changes of a prompt or its labels once they are committed, so its
 * next run sees them even before their NOTIFY comes back.
 */
export function promptChanged(sql: Sql, promptId: string): void {
  const cache = caches.get(sql);
  if (cache) forgetPrompt(cache, promptId);
}

function forget(cache: Cache, key: string): void {
  const entry = cache.entries.get(key);
  if (!entry) return;
  cache.entries.delete(key);
  cache.chars -= entry.chars;
}

const charsOf = (v: VersionRow) =>
  (v.template?.length ?? 0) + (v.messages ?? []).reduce((n, m) => n + m.content.length, 0);

function remember(cache: Cache, key: string, entry: Entry): void {
  forget(cache, key); // re-inserted last: the oldest entries are evicted first
  if (entry.chars > MAX_CHARS) return;
  for (const oldest of cache.entries.keys()) {
    if (cache.entries.size < MAX_ENTRIES && cache.chars + entry.chars <= MAX_CHARS) break;
    forget(cache, oldest);
  }
  cache.entries.set(key, entry);
  cache.chars += entry.chars;
}

const keyOf = (orgId: string, idOrName: string, s: VersionSelector) =>
  `${orgId}\u0000${idOrName}\u0000${s.version !== undefined ? `v${s.version}` : `l${s.label ?? 'production'}`}`;

/**
 * The prompt a run names (by id or name, within the organization) and the version its selector
 * picks; undefined when there is no such prompt. Cached (see above): treat the rows as read-only.
 */
export async function findRunPrompt(
  sql: Sql,
  orgId: string,
  idOrName: string,
  selector: VersionSelector,
): Promise<RunPrompt | undefined> {
  const cache = cacheFor(sql);
  const key = keyOf(orgId, idOrName, selector);
  const now = Date.now();
  if (cache.isListening) {
    const entry = cache.entries.get(key);
    if (entry && entry.expiresAt > now) return entry.value;
  }
  const generation = cache.generation;
  // prompt and version in one statement, as resolveVersion (versions.ts) picks it
  const value = await findPromptWithVersion(sql, orgId, idOrName, {
    version: selector.version,
    label: selector.label ?? 'production',
  });
  if (!value) return undefined;
  if (value.version && cache.isListening && cache.generation === generation) {
    const chars = charsOf(value.version);
    remember(cache, key, { promptId: value.prompt.id, value, expiresAt: now + ENTRY_TTL_MS, chars });
  }
  return value;
}
