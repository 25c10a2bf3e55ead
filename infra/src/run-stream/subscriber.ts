import type { Sql } from '../db/client.ts';
import { RUN_STREAM_CHANNEL, type RunStreamMessage, runStreamMessageSchema } from './channel.ts';

/**
 * Assembles one run's deltas by offset: writes each character once, in order. Deltas that arrive
 * early wait for the gap before them; text already written is dropped (a call re-run after a
 * worker crash streams the same output again, possibly grouped into different deltas).
 */
export class DeltaSequencer {
  #written = 0;
  #pending = new Map<number, string>();
  #ready: string[] = [];
  #endLength: number | undefined;
  #waiters: (() => void)[] = [];

  accept(message: RunStreamMessage): void {
    if ('end' in message) {
      this.#endLength = message.length;
    } else if (message.offset + message.delta.length > this.#written) {
      this.#pending.set(message.offset, message.delta);
      this.#release();
    }
    for (const wake of this.#waiters.splice(0)) wake();
  }

  #release(): void {
    for (let progressed = true; progressed; ) {
      progressed = false;
      for (const [offset, delta] of this.#pending) {
        if (offset > this.#written) continue;
        this.#pending.delete(offset);
        const fresh = delta.slice(this.#written - offset);
        if (fresh === '') continue;
        this.#ready.push(fresh);
        this.#written += fresh.length;
        progressed = true;
      }
    }
  }

  /** The deltas that can be written now, in order. */
  take(): string[] {
    return this.#ready.splice(0);
  }

  /** True once the end marker came and all the text before it. */
  get isComplete(): boolean {
    return this.#endLength !== undefined && this.#written >= this.#endLength;
  }

  /** Resolves true once complete, false after `timeoutMs`. */
  async whenComplete(timeoutMs: number): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    while (!this.isComplete) {
      const left = deadline - Date.now();
      if (left <= 0) return false;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.#waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
    return true;
  }
}

/**
 * The api's end: one LISTEN connection per `sql` pool (per api process); each message goes to the
 * responses waiting for its run.
 */
export interface RunStreamHub {
  /** Resolves once this process listens on the stream channel. */
  ready(): Promise<void>;
  /** Calls `onMessage` for every message of `runId` until the returned function is called. */
  subscribe(runId: string, onMessage: (message: RunStreamMessage) => void): () => void;
}

const hubs = new WeakMap<Sql, RunStreamHub>();

/** The process's hub: one LISTEN connection per `sql` pool, i.e. per api process. */
export function runStreamHubFor(sql: Sql): RunStreamHub {
  let hub = hubs.get(sql);
  if (!hub) {
    hub = createRunStreamHub(sql);
    hubs.set(sql, hub);
  }
  return hub;
}

function runIdOf(raw: unknown): string | undefined {
  return typeof raw === 'object' && raw !== null && 'run' in raw && typeof raw.run === 'string'
    ? raw.run
    : undefined;
}

function createRunStreamHub(sql: Sql): RunStreamHub {
  const subscribers = new Map<string, Set<(message: RunStreamMessage) => void>>();
  let listening: Promise<void> | undefined;

  const dispatch = (payload: string) => {
    let raw: unknown;
    try {
      raw = JSON.parse(payload);
    } catch {
      return;
    }
    // most messages belong to other processes' clients: look the run up before validating
    const runId = runIdOf(raw);
    const subs = runId === undefined ? undefined : subscribers.get(runId);
    if (!subs) return;
    const parsed = runStreamMessageSchema.safeParse(raw);
    if (!parsed.success) return;
    for (const onMessage of subs) onMessage(parsed.data);
  };

  return {
    ready() {
      listening ??= sql.listen(RUN_STREAM_CHANNEL, dispatch).then(
        () => undefined,
        (err: unknown) => {
          listening = undefined;
          throw err;
        },
      );
      return listening;
    },
    subscribe(runId, onMessage) {
      let subs = subscribers.get(runId);
      if (!subs) {
        subs = new Set();
        subscribers.set(runId, subs);
      }
      subs.add(onMessage);
      return () => {
        subs.delete(onMessage);
        if (subs.size === 0 && subscribers.get(runId) === subs) subscribers.delete(runId);
      };
    },
  };
}
