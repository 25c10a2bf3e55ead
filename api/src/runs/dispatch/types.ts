import type { Logger } from '@promptmill/infra/logger';
import type { ErrorCode, RunPromptWorkflowInput } from '@promptmill/workflows';

/**
 * Async runs are answered (202) once their row — with the workflow input — is committed; their
 * workflows are started in the background, so the accept rate does not hang on Temporal's write
 * latency. The runs table is the outbox:
 *
 * - the batcher (batcher.ts): dispatch() keeps the run in memory; at most once per flushIntervalMs
 *   the waiting runs are claimed with ONE conditional UPDATE (dispatched_at; runs canceled
 *   meanwhile are not claimed and never start), then started with at most `concurrency` starts in
 *   flight. A failed start gives its claim back (batched too), for a sweeper's next attempt.
 * - the sweeper (sweeper.ts), every sweepIntervalMs in every api process: claims runs nobody
 *   claimed within a few seconds (their process crashed, was killed, or is backlogged) and claims
 *   gone stale, and hands them to the batcher to start; fails runs that could not be started for
 *   too long (SERVICE_UNAVAILABLE).
 * - a start refused for a reason no retry can change (RunStartRefusedError: a payload over the
 *   server's limit, an unknown namespace, …) fails its run at once instead of giving the claim back.
 * - stop(): stops the sweeper, drains what is in memory (bounded); claims of runs left unstarted
 *   are given back.
 *
 * Starting twice is harmless: workflow id = run id, and a second start reports already_started.
 */
export type StartResult = 'started' | 'already_started';

/** The `result` label of promptmill_run_dispatch_total. */
export type DispatchOutcome = StartResult | 'error' | 'refused' | 'abandoned';

/** Thrown by a start that retrying cannot fix: the run fails now with this code and (safe) message. */
export class RunStartRefusedError extends Error {
  override name = 'RunStartRefusedError';
  readonly code: ErrorCode;

  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
  }
}

export interface DispatchStore {
  /** Claims the runs still queued and unclaimed; returns the ids it claimed. */
  claim(ids: readonly string[]): Promise<string[]>;
  /** Gives claims back: the runs wait for a sweeper. */
  release(ids: readonly string[]): Promise<void>;
  /** Fails a claimed run whose start was refused for good (frees its idempotency key). */
  fail(id: string, code: ErrorCode, message: string): Promise<void>;
  /** The sweeper's claim of orphaned runs (at most `limit`), with their workflow input. */
  claimOrphans(limit: number): Promise<RunPromptWorkflowInput[]>;
  /** Fails runs that could not be started for too long; returns their ids. */
  abandonExpired(limit: number): Promise<string[]>;
}

export type DispatchLogger = Pick<Logger, 'info' | 'warn' | 'error'>;
export type DispatchCounter = (outcome: DispatchOutcome, n: number) => void;
