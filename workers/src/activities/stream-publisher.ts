import type { Sql } from '@promptmill/infra/db';
import {
  RUN_CANCEL_CHANNEL,
  RUN_STREAM_CHANNEL,
  type RunStreamMessage,
  STREAM_NOTIFY_MAX_BYTES,
} from '@promptmill/workflows';

/**
 * Worker side of the stream transport (the api side and the reasons for Postgres NOTIFY are in
 * api/src/domain/run-stream.ts).
 *
 * Deltas are published in order, one NOTIFY at a time; whatever the provider sends while a NOTIFY
 * is in flight (well under a millisecond on a local database) is sent as one message, so a fast
 * provider costs fewer round trips and a slow one gets a message per token.
 */
export interface StreamPublisher {
  /** Queues a delta; returns at once (publishing never blocks reading the provider stream). */
  push(delta: string): void;
  /** Publishes what is queued, then the end marker; resolves once Postgres has taken them. */
  end(): Promise<void>;
  /** Resolves once everything queued so far is published (or failed). */
  flush(): Promise<void>;
  /** Length of the text published so far (UTF-16 code units). */
  readonly published: number;
}

/** Splits text so that each message's JSON stays under the NOTIFY payload limit (by code point). */
export function splitForNotify(runId: string, text: string, maxBytes = STREAM_NOTIFY_MAX_BYTES): string[] {
  const overhead = Buffer.byteLength(
    JSON.stringify({ run: runId, offset: Number.MAX_SAFE_INTEGER, delta: '' }),
  );
  const budget = maxBytes - overhead;
  if (Buffer.byteLength(JSON.stringify(text)) - 2 <= budget) return [text];
  const parts: string[] = [];
  let current = '';
  let size = 0;
  for (const ch of text) {
    const chSize = Buffer.byteLength(JSON.stringify(ch)) - 2;
    if (size + chSize > budget && current !== '') {
      parts.push(current);
      current = '';
      size = 0;
    }
    current += ch;
    size += chSize;
  }
  if (current !== '') parts.push(current);
  return parts;
}

export function createStreamPublisher(
  sql: Sql,
  runId: string,
  onError: (err: unknown) => void = () => {},
): StreamPublisher {
  let pending = '';
  let offset = 0;
  let pump: Promise<void> = Promise.resolve();
  let isPumping = false;

  const notify = async (message: RunStreamMessage) => {
    await sql`SELECT pg_notify(${RUN_STREAM_CHANNEL}, ${JSON.stringify(message)})`;
  };

  const drain = async () => {
    while (pending !== '') {
      const text = pending;
      pending = '';
      for (const part of splitForNotify(runId, text)) {
        try {
          await notify({ run: runId, offset, delta: part });
        } catch (err) {
          // a lost delta leaves a gap the client can repair from `done.output`; the run goes on
          onError(err);
        }
        offset += part.length;
      }
    }
  };

  const kick = () => {
    if (isPumping) return;
    isPumping = true;
    pump = drain().finally(() => {
      isPumping = false;
    });
  };

  return {
    push(delta) {
      if (delta === '') return;
      pending += delta;
      kick();
    },
    async flush() {
      while (isPumping || pending !== '') {
        kick();
        await pump;
      }
    },
    async end() {
      await this.flush();
      try {
        await notify({ run: runId, end: true, length: offset });
      } catch (err) {
        onError(err);
      }
    },
    get published() {
      return offset;
    },
  };
}

/**
 * Fast cancellation of streaming runs: a canceled workflow reaches a running local activity only
 * when the worker next heartbeats its workflow task (up to 8 s with the default 10 s task timeout),
 * so the api also NOTIFYs RUN_CANCEL_CHANNEL and the worker aborts the provider request at once.
 * One LISTEN connection per worker process, started on the first streaming call.
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
