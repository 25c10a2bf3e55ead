import { z } from 'zod';
import type { Sql } from '../db/client.ts';
import type { EndedRun } from '../db/queries/runs.queries.ts';
import { RUN_DONE_CHANNEL } from './channel.ts';

/**
 * The api's end of "this run has ended": every transaction that ends a run NOTIFYs RUN_DONE_CHANNEL
 * at commit (a trigger on `runs`, migration 012) with the ended row's answer as JSON, or its id
 * alone when that is too big for a NOTIFY. An api process waiting for a run answers from that, or
 * from the row, as soon as it arrives, not when the workflow completes (the worker's next
 * workflow task, and Temporal recording it, come after the commit).
 *
 * NOTIFY is not durable: a listener that reconnects may have missed some. So a watch also fires
 * whenever the listener (re)starts listening, and callers re-read the row then; and callers keep
 * another way to learn the outcome (the workflow's result) for a listener that is silently gone,
 * which they use at once while a watch has reported a miss recently (`isReliable`).
 */
export interface RunDoneHub {
  /** Resolves once this process listens (one LISTEN connection per `sql` pool, shared with the stream hub). */
  ready(): Promise<void>;
  /** Watches one run: its watch fires on the run's NOTIFY and on every (re)listen. */
  watch(runId: string): RunDoneWatch;
}

export interface RunDoneWatch {
  /**
   * Resolves at the next firing, or at once if the watch fired since the last call (a NOTIFY that
   * arrives while the caller is reading the row is not lost): with the ended run when the NOTIFY
   * carried it, else undefined — then read the row.
   */
  next(): Promise<EndedRun | undefined>;
  /**
   * Whether this process's NOTIFYs can be relied on: false for a while after a watched run was
   * seen to end without its NOTIFY (`missed`), e.g. a listening connection that died silently.
   */
  readonly isReliable: boolean;
  /** The run ended and its NOTIFY never came: callers rely on other ways for a while. */
  missed(): void;
  release(): void;
}

/** How long a missed NOTIFY makes this process's hub unreliable. */
const DISTRUST_MS = 60_000;

const hubs = new WeakMap<Sql, RunDoneHub>();

/** The process's hub: one per `sql` pool, i.e. per api process. */
export function runDoneHubFor(sql: Sql): RunDoneHub {
  let hub = hubs.get(sql);
  if (!hub) {
    hub = createRunDoneHub(sql);
    hubs.set(sql, hub);
  }
  return hub;
}

interface Reliability {
  distrustedUntil: number;
}

class Watch implements RunDoneWatch {
  #fired = false;
  #ended: EndedRun | undefined;
  #wake: (() => void) | undefined;
  readonly #onRelease: (w: Watch) => void;
  readonly #reliability: Reliability;

  constructor(onRelease: (w: Watch) => void, reliability: Reliability) {
    this.#onRelease = onRelease;
    this.#reliability = reliability;
  }

  get isReliable(): boolean {
    return Date.now() >= this.#reliability.distrustedUntil;
  }

  missed(): void {
    this.#reliability.distrustedUntil = Date.now() + DISTRUST_MS;
  }

  fire(ended?: EndedRun): void {
    this.#fired = true;
    this.#ended ??= ended;
    this.#wake?.();
  }

  #take(): EndedRun | undefined {
    const ended = this.#ended;
    this.#fired = false;
    this.#ended = undefined;
    return ended;
  }

  next(): Promise<EndedRun | undefined> {
    if (this.#fired) return Promise.resolve(this.#take());
    return new Promise((resolve) => {
      this.#wake = () => {
        this.#wake = undefined;
        resolve(this.#take());
      };
    });
  }

  release(): void {
    this.#onRelease(this);
  }
}

const endedRunSchema = z.object({
  id: z.string(),
  status: z.enum(['succeeded', 'failed', 'canceled']),
  output: z.string().nullable(),
  model: z.string(),
  errorCode: z.string().nullable(),
  errorMessage: z.string().nullable(),
  promptTokens: z.number(),
  completionTokens: z.number(),
  cost: z.number(),
  attempts: z.number(),
  createdAt: z.coerce.date(),
  startedAt: z.coerce.date().nullable(),
  finishedAt: z.coerce.date(),
});

/** The run id a payload is about, read without parsing it (most are other processes' runs). */
export function runIdOf(payload: string): string {
  if (!payload.startsWith('{')) return payload;
  return /^\{"id" ?: ?"([^"]+)"/.exec(payload)?.[1] ?? '';
}

/** The ended run a NOTIFY carried; undefined for an id alone (or anything unexpected: read the row). */
export function endedRunOf(payload: string): EndedRun | undefined {
  if (!payload.startsWith('{')) return undefined;
  try {
    const parsed = endedRunSchema.safeParse(JSON.parse(payload));
    if (!parsed.success) return undefined;
    const { id: _id, ...ended } = parsed.data;
    return ended;
  } catch {
    return undefined;
  }
}

function createRunDoneHub(sql: Sql): RunDoneHub {
  const watches = new Map<string, Set<Watch>>();
  const reliability: Reliability = { distrustedUntil: 0 };
  let listening: Promise<void> | undefined;
  const fireAll = () => {
    for (const set of watches.values()) for (const w of set) w.fire();
  };
  return {
    ready() {
      listening ??= sql
        .listen(
          RUN_DONE_CHANNEL,
          (payload) => {
            const watching = watches.get(runIdOf(payload));
            if (!watching) return;
            const ended = endedRunOf(payload);
            for (const w of watching) w.fire(ended);
          },
          fireAll, // (re)listening: whatever ended while nobody listened is read again
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
    watch(runId) {
      let set = watches.get(runId);
      if (!set) {
        set = new Set();
        watches.set(runId, set);
      }
      const own = set;
      const w = new Watch((released) => {
        own.delete(released);
        if (own.size === 0 && watches.get(runId) === own) watches.delete(runId);
      }, reliability);
      own.add(w);
      return w;
    },
  };
}
