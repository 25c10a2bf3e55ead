import {
  abandonUndispatchedRuns,
  claimOrphanRuns,
  claimRunsForDispatch,
  releaseDispatchClaims,
  type Sql,
} from '@promptmill/infra/db';
import type { Logger } from '@promptmill/infra/logger';
import type { RunPromptWorkflowInput } from '@promptmill/workflows';

/**
 * Async runs are answered (202) once their row — with the workflow input — is committed; their
 * workflows are started here, in the background, so the accept rate does not hang on Temporal's
 * write latency. The runs table is the outbox:
 *
 * - dispatch(): the run waits in memory; at most once per flushIntervalMs the waiting runs are
 *   claimed with ONE conditional UPDATE (dispatched_at; runs canceled meanwhile are not claimed and
 *   never start), then started with at most `concurrency` starts in flight. A failed start gives
 *   its claim back (batched too), for the sweeper's next attempt.
 * - sweep(), every sweepIntervalMs in every api process: claims runs nobody claimed within a few
 *   seconds (their process crashed, was killed, or is backlogged) and claims gone stale, and starts
 *   them; fails runs that could not be started for too long (SERVICE_UNAVAILABLE).
 * - stop(): drains what is in memory, bounded; claims of runs left unstarted are given back.
 *
 * Starting twice is harmless: workflow id = run id, and a second start reports already_started.
 */
export type StartResult = 'started' | 'already_started';

/** The `result` label of promptmill_run_dispatch_total. */
export type DispatchOutcome = StartResult | 'error' | 'abandoned';

export interface DispatchStore {
  /** Claims the runs still queued and unclaimed; returns the ids it claimed. */
  claim(ids: readonly string[]): Promise<string[]>;
  /** Gives claims back: the runs wait for a sweeper. */
  release(ids: readonly string[]): Promise<void>;
  /** The sweeper's claim of orphaned runs (at most `limit`), with their workflow input. */
  claimOrphans(limit: number): Promise<RunPromptWorkflowInput[]>;
  /** Fails runs that could not be started for too long; returns their ids. */
  abandonExpired(limit: number): Promise<string[]>;
}

export interface RunDispatcherOptions {
  store: DispatchStore;
  /** Starts the run's workflow; throws when Temporal refuses or is unreachable. */
  start: (input: RunPromptWorkflowInput) => Promise<StartResult>;
  logger: Pick<Logger, 'info' | 'warn' | 'error'>;
  count?: ((outcome: DispatchOutcome, n: number) => void) | undefined;
  /** workflow starts in flight at once */
  concurrency: number;
  /** at most one claim UPDATE per this interval */
  flushIntervalMs: number;
  /** runs per claim */
  maxBatch: number;
  /** runs waiting in memory beyond this are left to the sweeper */
  maxQueued: number;
  /** 0 = no sweeper */
  sweepIntervalMs: number;
  /** runs per sweep */
  sweepBatch: number;
  /** test only: a run waits this long in memory before its claim, so a test can kill the process first */
  holdMs?: number | undefined;
}

export interface RunDispatcher {
  /** Hands over a committed, queued run; returns at once. */
  dispatch(input: RunPromptWorkflowInput): void;
  /** Resolves once this process's start of the run has settled; undefined if it is not handling it. */
  whenSettled(runId: string): Promise<void> | undefined;
  /** One sweep; returns how many runs it claimed. */
  sweep(): Promise<number>;
  /** Runs in memory: waiting for a claim, claimed and waiting for a start slot, being started. */
  pending(): number;
  /** Stops the sweeper and drains (bounded); what is left is given back to the sweepers. */
  stop(timeoutMs: number): Promise<void>;
}

/** After a failed claim (Postgres unreachable), wait this long before the next one. */
const CLAIM_RETRY_MS = 1_000;
/** Start failures are logged at most this often (Temporal down would log every run otherwise). */
const ERROR_LOG_INTERVAL_MS = 5_000;

interface Entry {
  input: RunPromptWorkflowInput;
  queuedAt: number;
}

interface Settler {
  promise: Promise<void>;
  resolve: () => void;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export function createRunDispatcher(o: RunDispatcherOptions): RunDispatcher {
  const waiting: Entry[] = [];
  const ready: Entry[] = [];
  let inFlight = 0;
  let failed: string[] = [];
  const settlers = new Map<string, Settler>();
  let timer: NodeJS.Timeout | undefined;
  let isFlushing = false;
  let isSweeping = false;
  let lastFlushAt = 0;
  let retryAt = 0;
  let stopping = false;
  let stopped = false;
  let lastErrorLogAt = 0;
  let unloggedErrors = 0;
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
      let claimed: Set<string>;
      try {
        claimed = new Set(await o.store.claim(batch.map((e) => e.input.runId)));
      } catch (err) {
        waiting.unshift(...batch);
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

  function logStartError(err: unknown): void {
    const now = Date.now();
    if (now - lastErrorLogAt < ERROR_LOG_INTERVAL_MS) {
      unloggedErrors++;
      return;
    }
    o.logger.warn(
      { err, alsoFailedSinceLastLog: unloggedErrors },
      'run dispatch: workflow start failed; the run waits for the sweeper',
    );
    lastErrorLogAt = now;
    unloggedErrors = 0;
  }

  async function startOne(e: Entry): Promise<void> {
    try {
      count(await o.start(e.input));
    } catch (err) {
      count('error');
      failed.push(e.input.runId);
      logStartError(err);
    } finally {
      inFlight--;
      settle(e.input.runId);
      pump();
      schedule();
    }
  }

  async function sweep(): Promise<number> {
    if (isSweeping || stopped) return 0;
    isSweeping = true;
    try {
      const abandoned = await o.store.abandonExpired(o.sweepBatch);
      if (abandoned.length > 0) {
        count('abandoned', abandoned.length);
        o.logger.error(
          { runs: abandoned.length, ids: abandoned.slice(0, 20) },
          'run dispatch: runs failed (SERVICE_UNAVAILABLE): their workflow could not be started in time',
        );
      }
      const limit = Math.min(o.sweepBatch, room());
      if (limit <= 0 || stopping) return 0;
      const orphans = await o.store.claimOrphans(limit);
      if (orphans.length === 0) return 0;
      const now = Date.now();
      for (const input of orphans) ready.push({ input, queuedAt: now });
      o.logger.info({ runs: orphans.length }, 'run dispatch: sweeper claimed runs nobody started');
      pump();
      return orphans.length;
    } catch (err) {
      o.logger.warn({ err }, 'run dispatch: sweep failed');
      return 0;
    } finally {
      isSweeping = false;
    }
  }

  const sweeper = o.sweepIntervalMs > 0 ? setInterval(() => void sweep(), o.sweepIntervalMs) : undefined;
  sweeper?.unref();

  return {
    dispatch(input) {
      if (stopped || waiting.length >= o.maxQueued) return; // committed: a sweeper starts it
      let resolve = () => {};
      const promise = new Promise<void>((r) => {
        resolve = r;
      });
      settlers.set(input.runId, { promise, resolve });
      waiting.push({ input, queuedAt: Date.now() });
      schedule();
    },
    whenSettled: (runId) => settlers.get(runId)?.promise,
    sweep,
    pending: () => waiting.length + ready.length + inFlight,
    async stop(timeoutMs) {
      if (stopping) return;
      stopping = true;
      if (sweeper) clearInterval(sweeper);
      if (timer) {
        clearTimeout(timer);
        timer = undefined;
      }
      schedule();
      const deadline = Date.now() + timeoutMs;
      const isBusy = () =>
        waiting.length + ready.length + inFlight + failed.length > 0 || isFlushing || isSweeping;
      while (isBusy() && Date.now() < deadline) await sleep(10);
      stopped = true;
      if (timer) clearTimeout(timer);
      // unclaimed runs need nothing: any sweeper claims them; claimed, unstarted ones are given back
      const unstarted = ready.splice(0).map((e) => e.input.runId);
      const unclaimed = waiting.splice(0).map((e) => e.input.runId);
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

export interface DispatchStoreOptions {
  /** runs nobody claimed for this long after their creation are swept */
  minAgeSeconds: number;
  /** claims older than this on runs still queued are swept again */
  staleClaimSeconds: number;
  /** runs not started this long after their creation fail with SERVICE_UNAVAILABLE */
  giveUpSeconds: number;
}

/** The outbox in Postgres (runs.workflow_input, runs.dispatched_at). */
export function createDispatchStore(sql: Sql, opts: DispatchStoreOptions): DispatchStore {
  const minutes = Math.max(1, Math.round(opts.giveUpSeconds / 60));
  return {
    claim: (ids) => claimRunsForDispatch(sql, ids),
    release: (ids) => releaseDispatchClaims(sql, ids),
    async claimOrphans(limit) {
      const rows = await claimOrphanRuns(sql, {
        minAgeSeconds: opts.minAgeSeconds,
        staleClaimSeconds: opts.staleClaimSeconds,
        limit,
      });
      // the row's id is authoritative: the workflow id must be the run id
      return rows.map((r) => ({ ...r.workflowInput, runId: r.id }));
    },
    abandonExpired: (limit) =>
      abandonUndispatchedRuns(sql, {
        olderThanSeconds: opts.giveUpSeconds,
        limit,
        errorCode: 'SERVICE_UNAVAILABLE',
        errorMessage: `The run could not be started within ${minutes} min (the workflow service was unavailable); try again`,
      }),
  };
}

/** Settings that are not worth an env var: see RunDispatcherOptions and DispatchStoreOptions. */
export const DISPATCH_TUNING = {
  flushIntervalMs: 20,
  maxBatch: 500,
  maxQueued: 20_000,
  sweepBatch: 200,
  minAgeSeconds: 5,
  staleClaimSeconds: 30,
  /** how long shutdown waits for the in-memory queue to drain */
  drainMs: 10_000,
} as const;
