import type { Queryable, Sql } from '../db/client.ts';
import { RUN_CANCEL_CHANNEL } from './channel.ts';

/** The api's end: asks whichever worker calls the provider for `runId` to stop the request now. */
export async function requestStreamCancel(sql: Queryable, runId: string): Promise<void> {
  await sql`SELECT pg_notify(${RUN_CANCEL_CHANNEL}, ${runId})`;
}

/**
 * The worker's end: one LISTEN connection per worker process, started on the first provider call.
 */
export interface StreamCancellations {
  /** Resolves once this process is listening. */
  ready(): Promise<void>;
  /** The returned signal aborts when the api asks to cancel `runId`; call `release` when done. */
  watch(runId: string): { signal: AbortSignal; release: () => void };
}

const cancellationsBySql = new WeakMap<Sql, StreamCancellations>();

export function streamCancellationsFor(sql: Sql): StreamCancellations {
  let existing = cancellationsBySql.get(sql);
  if (!existing) {
    existing = createStreamCancellations(sql);
    cancellationsBySql.set(sql, existing);
  }
  return existing;
}

function createStreamCancellations(sql: Sql): StreamCancellations {
  const watchers = new Map<string, Set<AbortController>>();
  let listening: Promise<void> | undefined;
  return {
    ready() {
      listening ??= sql
        .listen(RUN_CANCEL_CHANNEL, (runId) => {
          for (const controller of watchers.get(runId) ?? []) controller.abort();
        })
        .then(
          () => undefined,
          (err: unknown) => {
            listening = undefined;
            throw err;
          },
        );
      return listening;
    },
    watch(runId) {
      const controller = new AbortController();
      let set = watchers.get(runId);
      if (!set) {
        set = new Set();
        watchers.set(runId, set);
      }
      set.add(controller);
      return {
        signal: controller.signal,
        release: () => {
          set.delete(controller);
          if (set.size === 0 && watchers.get(runId) === set) watchers.delete(runId);
        },
      };
    },
  };
}
