import type { Queryable } from '../db/client.ts';
import { RUN_STREAM_CHANNEL, type RunStreamMessage, splitForNotify } from './channel.ts';

/**
 * The worker's end: deltas are published in order, one NOTIFY at a time; whatever the provider
 * sends while a NOTIFY is in flight (well under a millisecond on a local database) goes out as one
 * message, so a fast provider costs fewer round trips and a slow one gets a message per token.
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

async function notify(sql: Queryable, message: RunStreamMessage): Promise<void> {
  await sql`SELECT pg_notify(${RUN_STREAM_CHANNEL}, ${JSON.stringify(message)})`;
}

export function createStreamPublisher(
  sql: Queryable,
  runId: string,
  onError: (err: unknown) => void = () => {},
): StreamPublisher {
  let pending = '';
  let offset = 0;
  let pump: Promise<void> = Promise.resolve();
  let isPumping = false;

  const drain = async () => {
    while (pending !== '') {
      const text = pending;
      pending = '';
      for (const part of splitForNotify(runId, text)) {
        try {
          await notify(sql, { run: runId, offset, delta: part });
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
        await notify(sql, { run: runId, end: true, length: offset });
      } catch (err) {
        onError(err);
      }
    },
    get published() {
      return offset;
    },
  };
}
