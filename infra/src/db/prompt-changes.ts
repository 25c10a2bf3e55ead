import type { Sql } from './client.ts';

/** A prompt's row or labels changed (payload = prompt id): NOTIFYed by triggers (migration 012). */
export const PROMPT_CHANGED_CHANNEL = 'pm_prompt_changed';

/**
 * What a process caches of prompts hears of every committed change here: one LISTEN per `sql`
 * pool (porsager's `listen` shares one connection among all channels of a pool).
 */
export interface PromptChanges {
  /** Resolves once this process listens. */
  ready(): Promise<void>;
  /**
   * `onChange(promptId)` after each committed change of that prompt or its labels, and
   * `onChange(undefined)` whenever the listener (re)starts: changes may have been missed meanwhile.
   */
  subscribe(onChange: (promptId: string | undefined) => void): () => void;
}

const bySql = new WeakMap<Sql, PromptChanges>();

export function promptChangesFor(sql: Sql): PromptChanges {
  let changes = bySql.get(sql);
  if (!changes) {
    changes = createPromptChanges(sql);
    bySql.set(sql, changes);
  }
  return changes;
}

function createPromptChanges(sql: Sql): PromptChanges {
  const subscribers = new Set<(promptId: string | undefined) => void>();
  let listening: Promise<void> | undefined;
  const tell = (promptId: string | undefined) => {
    for (const onChange of subscribers) onChange(promptId);
  };
  return {
    ready() {
      listening ??= sql
        .listen(
          PROMPT_CHANGED_CHANNEL,
          (promptId) => tell(promptId),
          () => tell(undefined),
        )
        .then(
          () => undefined,
          (err: unknown) => {
            listening = undefined;
            throw err;
          },
        );
      return listening;
    },
    subscribe(onChange) {
      subscribers.add(onChange);
      return () => subscribers.delete(onChange);
    },
  };
}
