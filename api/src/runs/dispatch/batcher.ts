import type { RunPromptWorkflowInput } from '@promptmill/workflows';
import {
  type DispatchCounter,
  type DispatchLogger,
  type DispatchOutcome,
  type DispatchStore,
  RunStartRefusedError,
  type StartResult,
} from './types.ts';

export interface BatcherOptions {
  store: DispatchStore;
  /**
   * Starts the run's workflow; throws when Temporal is unreachable (the claim is given back for a
   * sweeper), or RunStartRefusedError when it refuses the start for good (the run fails at once).
   */
  start: (input: RunPromptWorkflowInput) => Promise<StartResult>;
  logger: DispatchLogger;
  count?: DispatchCounter | undefined;
  /** workflow starts in flight at once */
  concurrency: number;
  /** at most one claim UPDATE per this interval */
  flushIntervalMs: number;
  /** runs per claim */
  maxBatch: number;
  /** runs waiting in memory beyond this are left to the sweeper */
  maxQueued: number;
  /** nor more than about this many bytes of them (their prompts: a run's may be up to 1.5 MB) */
  maxQueuedBytes?: number | undefined;
  /** test only: a run waits this long in memory before its claim, so a test can kill the process first */
  holdMs?: number | undefined;
}

/** Claims runs in batches and starts their workflows with bounded concurrency (see types.ts). */
export interface DispatchBatcher {
  /** Hands over a committed, queued run; returns at once. */
  dispatch(input: RunPromptWorkflowInput): void;
  /** Runs already claimed (by a sweeper) to start as slots free up. */
  startClaimed(inputs: readonly RunPromptWorkflowInput[]): void;
  /** How many more claimed runs may wait for a start slot. */
  room(): number;
  /** Resolves once this process's start of the run has settled; undefined if it is not handling it. */
  whenSettled(runId: string): Promise<void> | undefined;
  /** Runs in memory: waiting for a claim, claimed and waiting for a start slot, being started. */
  pending(): number;
  /** Drains (bounded); claims of what is left unstarted are given back. */
  stop(timeoutMs: number, isBusyElsewhere?: () => boolean): Promise<void>;
}

/** After a failed claim (Postgres unreachable), wait this long before the next one. */
const CLAIM_RETRY_MS = 1_000;
/** Start failures are logged at most this often (Temporal down would log every run otherwise). */
const ERROR_LOG_INTERVAL_MS = 5_000;

interface Entry {
  input: RunPromptWorkflowInput;
  queuedAt: number;
  /** about what its input holds in memory (sizeOf) */
  bytes: number;
}

/** About the memory a run's input holds: its messages' text (UTF-16) and some overhead. */
const sizeOf = (input: RunPromptWorkflowInput) =>
  512 + 2 * (input.messages ?? []).reduce((n, m) => n + m.content.length, 0);

interface Settler {
  promise: Promise<void>;
  resolve: () => void;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export function createDispatchBatcher(o: BatcherOptions): DispatchBatcher {
  const waiting: Entry[] = [];
  let waitingBytes = 0;
  const ready: Entry[] = [];
  let inFlight = 0;
  let failed: string[] = [];
  const settlers = new Map<string, Settler>();
  let timer: NodeJS.Timeout | undefined;
  let isFlushing = false;
  let lastFlushAt = 0;
  let retryAt = 0;
  let stopping = false;
  let stopped = false;
  const count = (outcome: DispatchOutcome, n = 1) => o.count?.(outcome, n);

  const settle = (runId: string) => {
    const s = settlers.get(runId);
    if (!s) return;
    settlers.delete(runId);
    s.resolve();
  };
  // claimed runs not yet started stay few: a crash strands at most this many until their claim goes stale
  const room = () => 2 * o.concurrency - ready.length - inFlight;
  const isHeld = (e: Entry, now: number) => !stopping && !!o.holdMs && e.queuedAt + o.holdMs > now;

  function schedule(): void {
    if (timer || isFlushing || stopped) return;
    const hasWork = (waiting.length > 0 && room() > 0) || failed.length > 0;
    if (!hasWork) return;
    const now = Date.now();
    let at = Math.max(retryAt, stopping ? now : lastFlushAt + o.flushIntervalMs);
    const first = waiting[0];
    if (failed.length === 0 && first && isHeld(first, now))
      at = Math.max(at, first.queuedAt + (o.holdMs ?? 0));
    timer = setTimeout(
      () => {
        timer = undefined;
        void flush();
      },
      Math.max(0, at - now),
    );
    timer.unref();
  }

  async function flush(): Promise<void> {
    isFlushing = true;
    lastFlushAt = Date.now();
    try {
      if (failed.length > 0) {
        const ids = failed;
        failed = [];
        try {
          await o.store.release(ids);
        } catch (err) {
          o.logger.warn({ err, runs: ids.length }, 'run dispatch: claims not given back; swept once stale');
        }
      }
      const now = Date.now();
      const limit = Math.min(o.maxBatch, room());
      let n = 0;
      while (n < limit && n < waiting.length && !isHeld(waiting[n]!, now)) n++;
      if (n === 0) return;
      const batch = waiting.splice(0, n);
      const batchBytes = batch.reduce((sum, e) => sum + e.bytes, 0);
      waitingBytes -= batchBytes;
      let claimed: Set<string>;
      try {
        claimed = new Set(await o.store.claim(batch.map((e) => e.input.runId)));
      } catch (err) {
        waiting.unshift(...batch);
        waitingBytes += batchBytes;
        retryAt = Date.now() + CLAIM_RETRY_MS;
        o.logger.warn({ err, runs: batch.length }, 'run dispatch: claim failed; retrying');
        return;
      }
      for (const e of batch) {
        // not claimed: canceled meanwhile, or a sweeper took it
        if (claimed.has(e.input.runId)) ready.push(e);
        else settle(e.input.runId);
      }
      pump();
    } finally {
      isFlushing = false;
      schedule();
    }
  }

  function pump(): void {
    while (inFlight < o.concurrency && ready.length > 0) {
      const e = ready.shift()!;
      inFlight++;
      void startOne(e);
    }
  }

  /** Start failures are logged at most once per ERROR_LOG_INTERVAL_MS each (Temporal down would log every run). */
  function throttledLog(level: 'warn' | 'error', message: string): (err: unknown, runId: string) => void {
    let lastAt = 0;
    let unlogged = 0;
    return (err, runId) => {
      const now = Date.now();
      if (now - lastAt < ERROR_LOG_INTERVAL_MS) {
        unlogged++;
        return;
      }
      o.logger[level]({ err, runId, alsoFailedSinceLastLog: unlogged }, message);
      lastAt = now;
      unlogged = 0;
    };
  }
  const logStartError = throttledLog(
    'warn',
    'run dispatch: workflow start failed; the run waits for the sweeper',
  );
  const logRefusal = throttledLog('error', 'run dispatch: workflow start refused; the run failed');

  /** A start refused for good: the run fails now (if that write fails, the claim goes back for a retry). */
  async function failRefused(e: Entry, err: RunStartRefusedError): Promise<void> {
    count('refused');
    logRefusal(err.cause ?? err, e.input.runId);
    try {
      await o.store.fail(e.input.runId, err.code, err.message);
    } catch (writeErr) {
      failed.push(e.input.runId);
      o.logger.warn(
        { err: writeErr, runId: e.input.runId },
        'run dispatch: refused run not failed; retried later',
      );
    }
  }

  async function startOne(e: Entry): Promise<void> {
    try {
      count(await o.start(e.input));
    } catch (err) {
      if (err instanceof RunStartRefusedError) {
        await failRefused(e, err);
      } else {
        count('error');
        failed.push(e.input.runId);
        logStartError(err, e.input.runId);
      }
    } finally {
      inFlight--;
      settle(e.input.runId);
      pump();
      schedule();
    }
  }

  return {
    dispatch(input) {
      const bytes = sizeOf(input);
      const isFull =
        waiting.length >= o.maxQueued ||
        (o.maxQueuedBytes !== undefined && waitingBytes + bytes > o.maxQueuedBytes);
      if (stopped || isFull) return; // committed: a sweeper starts it
      let resolve = () => {};
      const promise = new Promise<void>((r) => {
        resolve = r;
      });
      settlers.set(input.runId, { promise, resolve });
      waiting.push({ input, queuedAt: Date.now(), bytes });
      waitingBytes += bytes;
      schedule();
    },
    startClaimed(inputs) {
      const now = Date.now();
      for (const input of inputs) ready.push({ input, queuedAt: now, bytes: 0 });
      pump();
    },
    room: () => (stopping ? 0 : room()),
    whenSettled: (runId) => settlers.get(runId)?.promise,
    pending: () => waiting.length + ready.length + inFlight,
    async stop(timeoutMs, isBusyElsewhere = () => false) {
      if (stopping) return;
      stopping = true;
      if (timer) {
        clearTimeout(timer);
        timer = undefined;
      }
      schedule();
      const deadline = Date.now() + timeoutMs;
      const isBusy = () =>
        waiting.length + ready.length + inFlight + failed.length > 0 || isFlushing || isBusyElsewhere();
      while (isBusy() && Date.now() < deadline) await sleep(10);
      stopped = true;
      if (timer) clearTimeout(timer);
      // unclaimed runs need nothing: any sweeper claims them; claimed, unstarted ones are given back
      const unstarted = ready.splice(0).map((e) => e.input.runId);
      const unclaimed = waiting.splice(0).map((e) => e.input.runId);
      waitingBytes = 0;
      const release = [...failed, ...unstarted];
      failed = [];
      if (release.length > 0) {
        await o.store.release(release).catch((err: unknown) => {
          o.logger.warn({ err, runs: release.length }, 'run dispatch: claims not given back at shutdown');
        });
      }
      for (const id of [...unstarted, ...unclaimed]) settle(id);
      if (unstarted.length + unclaimed.length + inFlight > 0) {
        o.logger.warn(
          { unstarted: unstarted.length, unclaimed: unclaimed.length, starting: inFlight },
          'run dispatch: stopped before draining; the sweepers start the rest',
        );
      }
    },
  };
}
