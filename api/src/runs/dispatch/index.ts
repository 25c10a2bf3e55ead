import type { RunPromptWorkflowInput } from '@promptmill/workflows';
import { type BatcherOptions, createDispatchBatcher } from './batcher.ts';
import { createDispatchSweeper } from './sweeper.ts';
import type { DispatchOutcome, DispatchStore, StartResult } from './types.ts';

export { createDispatchStore, DISPATCH_TUNING, type DispatchStoreOptions } from './store.ts';
export { RunStartRefusedError } from './types.ts';
export type { DispatchOutcome, DispatchStore, StartResult };

export interface RunDispatcherOptions extends BatcherOptions {
  /** 0 = no sweeper timer */
  sweepIntervalMs: number;
  /** runs per sweep */
  sweepBatch: number;
}

/** This process's dispatch of async runs: a batcher and a sweeper over one outbox (types.ts). */
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

export function createRunDispatcher(o: RunDispatcherOptions): RunDispatcher {
  const batcher = createDispatchBatcher(o);
  const sweeper = createDispatchSweeper({
    store: o.store,
    batcher,
    logger: o.logger,
    count: o.count,
    sweepIntervalMs: o.sweepIntervalMs,
    sweepBatch: o.sweepBatch,
  });
  let stopping: Promise<void> | undefined;
  return {
    dispatch: (input) => batcher.dispatch(input),
    whenSettled: (runId) => batcher.whenSettled(runId),
    sweep: () => sweeper.sweep(),
    pending: () => batcher.pending(),
    stop(timeoutMs) {
      stopping ??= (async () => {
        sweeper.stop();
        await batcher.stop(timeoutMs, () => sweeper.isSweeping);
      })();
      return stopping;
    },
  };
}
