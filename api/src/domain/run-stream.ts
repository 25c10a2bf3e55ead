/**
 * Streaming runs (`POST /api/v1/run` with `stream: true`): the api end of the worker → api delta
 * transport, and the Server-Sent Events writer.
 *
 * Transport: Postgres LISTEN/NOTIFY.
 * - The worker's streaming activity NOTIFYs each delta on channel `pm_run_stream` as
 *   `{run, offset, delta}` (split below the 8000-byte payload limit), then `{run, end: true, length}`.
 * - Every api process holds ONE listening connection (started on its first streaming request) and
 *   hands each message to the HTTP response waiting for that run id; it subscribes before it starts
 *   the workflow, so no delta can be missed. Any number of api and worker processes work: every
 *   listener sees every NOTIFY, and the process holding the client picks its own runs out.
 * - Latency: one NOTIFY round trip (well under 1 ms on a local database) plus delivery; first-token
 *   latency is the provider's plus a few milliseconds.
 * - Why not the alternatives: Temporal itself (signals, queries, updates) reaches the workflow, not
 *   the api, and each would add a workflow task per token to the history; a message broker (Redis,
 *   NATS) would be a new service to run for one feature; a direct worker → api connection needs
 *   worker-to-api addressing and breaks behind load balancers. Postgres is already shared by all.
 * - Costs: every api process receives every delta of every stream (fine up to thousands of tokens
 *   per second; shard by channel per run-id hash past that); NOTIFY is not durable, so a listener
 *   that reconnects mid-stream can miss deltas — the `done` event always carries the whole output.
 *
 * Ordering: deltas carry their offset in the output; the api writes the text strictly in order, and
 * writes `done` only after the workflow's result is in AND the end marker and all the text before
 * it have arrived (or a short grace period has passed), so `done`/`error` is always the last event.
 * A worker that crashes mid-stream re-runs the call; text already written is not written again
 * (with a non-deterministic model the re-run's text can differ: `done.output` is authoritative).
 *
 * Client disconnect: the workflow is cancelled, and `pm_run_cancel` is NOTIFYed so the worker stops
 * the provider request at once (a workflow cancellation reaches a running local activity only at
 * its next workflow-task heartbeat, up to 8 s later). The run ends `canceled` with the usage of the
 * tokens streamed so far.
 *
 * SSE: `event: delta` `{delta}` per chunk, then exactly one `event: done`
 * `{runId, output, model, promptVersion, durationMs, usage}` or `event: error` `{code, message, runId}`;
 * a `: keep-alive` comment every 15 s while nothing else is sent.
 */
import type { Sql } from '@promptmill/infra/db';
import {
  RUN_CANCEL_CHANNEL,
  RUN_STREAM_CHANNEL,
  type RunOutcome,
  type RunStreamMessage,
  runStreamMessageSchema,
} from '@promptmill/workflows';
import type { Response } from 'express';
import type { AuthContext } from '../auth/auth-context.ts';
import { prepareRun, type RunDeps, type RunRequest, startRunWorkflow } from './runs.ts';

const KEEP_ALIVE_MS = 15_000;
/** After the workflow's result, how long to wait for deltas still in flight. */
const END_GRACE_MS = 2_000;

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

/** Cancels a streaming run whose client went away: the workflow, and at once the provider request. */
export async function cancelAbandonedStream(deps: RunDeps, runId: string): Promise<void> {
  await deps.temporal.client.workflow
    .getHandle(runId)
    .cancel()
    .catch(() => {}); // already finished: nothing to cancel
  await deps.sql`SELECT pg_notify(${RUN_CANCEL_CHANNEL}, ${runId})`.catch(() => {});
}

/** As on the sync route: rejections and broken streams reach clients as PROVIDER_ERROR (the message tells which). */
function clientErrorCode(code: string): string {
  return code === 'PROVIDER_REJECTED' || code === 'STREAM_BROKEN' ? 'PROVIDER_ERROR' : code;
}

function writeEvent(res: Response, event: string, data: unknown): void {
  if (res.writableEnded || res.destroyed) return;
  // JSON.stringify escapes newlines, so one data line is always enough
  res.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
}

/**
 * Runs a prompt and streams it as SSE. Everything that can fail before the run exists (auth,
 * validation, unknown prompt, budget) throws as usual and gets a JSON error; once the workflow has
 * started the answer is 200 `text/event-stream` and every outcome is an event.
 */
export async function streamRun(
  deps: RunDeps,
  auth: AuthContext,
  req: RunRequest,
  res: Response,
): Promise<void> {
  const started = performance.now();
  const prepared = await prepareRun(deps, auth, req, 'stream');
  const { runId } = prepared;
  const hub = runStreamHubFor(deps.sql);
  await hub.ready();

  const sequencer = new DeltaSequencer();
  let isOpen = false;
  const writeDeltas = () => {
    if (!isOpen) return;
    for (const delta of sequencer.take()) writeEvent(res, 'delta', { delta });
  };
  const unsubscribe = hub.subscribe(runId, (message) => {
    sequencer.accept(message);
    writeDeltas();
  });
  const gone = new AbortController();
  res.on('close', () => {
    if (!res.writableFinished) gone.abort();
  });

  try {
    await startRunWorkflow(deps, prepared, req);
  } catch (err) {
    unsubscribe();
    throw err;
  }

  res.status(200);
  res.setHeader('Content-Type', 'text/event-stream; charset=utf-8');
  res.setHeader('Cache-Control', 'no-cache, no-transform');
  res.setHeader('X-Accel-Buffering', 'no');
  res.setHeader('X-Run-Id', runId);
  res.flushHeaders();
  isOpen = true;
  writeDeltas(); // anything that came between the subscription and now

  const { client } = deps.temporal;
  const keepAlive = setInterval(() => {
    if (!res.writableEnded && !res.destroyed) res.write(': keep-alive\n\n');
  }, KEEP_ALIVE_MS);

  try {
    let outcome: RunOutcome;
    try {
      outcome = (await client.withAbortSignal(gone.signal, () =>
        client.workflow.getHandle(runId).result(),
      )) as RunOutcome;
    } catch (err) {
      if (gone.signal.aborted) {
        await cancelAbandonedStream(deps, runId);
        return;
      }
      throw err;
    }
    const hasStreamed = outcome.status === 'succeeded' || outcome.error?.code === 'STREAM_BROKEN';
    if (hasStreamed) await sequencer.whenComplete(END_GRACE_MS);
    writeDeltas();
    if (outcome.status === 'succeeded') {
      writeEvent(res, 'done', {
        runId,
        output: outcome.output ?? '',
        model: outcome.model,
        promptVersion: prepared.version.version,
        durationMs: Math.round(performance.now() - started),
        usage: outcome.usage,
      });
    } else {
      writeEvent(res, 'error', {
        code: clientErrorCode(outcome.error?.code ?? 'PROVIDER_ERROR'),
        message: outcome.error?.message ?? 'Run failed',
        runId,
      });
    }
  } catch {
    // the headers are gone: an unexpected failure (Temporal unreachable, workflow failure) is an event too
    writeEvent(res, 'error', { code: 'INTERNAL_ERROR', message: 'Run failed unexpectedly', runId });
  } finally {
    clearInterval(keepAlive);
    unsubscribe();
    if (!res.writableEnded) res.end();
  }
}
