import type { DispatchBatcher } from './batcher.ts';
import type { DispatchCounter, DispatchLogger, DispatchStore } from './types.ts';

export interface SweeperOptions {
  store: DispatchStore;
  batcher: DispatchBatcher;
  logger: DispatchLogger;
  count?: DispatchCounter | undefined;
  /** 0 = no timer (sweep() is still callable) */
  sweepIntervalMs: number;
  /** runs per sweep */
  sweepBatch: number;
}

/**
 * Every api process sweeps: runs nobody started (their process died) are claimed and handed to
 * this process's batcher; runs that could not be started for too long are failed (see types.ts).
 */
export interface DispatchSweeper {
  /** One sweep; returns how many runs it claimed. */
  sweep(): Promise<number>;
  readonly isSweeping: boolean;
  /** Stops the timer (a sweep under way finishes). */
  stop(): void;
}

export function createDispatchSweeper(o: SweeperOptions): DispatchSweeper {
  let isSweeping = false;
  let stopped = false;

  async function sweep(): Promise<number> {
    if (isSweeping || stopped) return 0;
    isSweeping = true;
    try {
      const abandoned = await o.store.abandonExpired(o.sweepBatch);
      if (abandoned.length > 0) {
        o.count?.('abandoned', abandoned.length);
        o.logger.error(
          { runs: abandoned.length, ids: abandoned.slice(0, 20) },
          'run dispatch: runs failed (SERVICE_UNAVAILABLE): their workflow could not be started in time',
        );
      }
      const limit = Math.min(o.sweepBatch, o.batcher.room());
      if (limit <= 0) return 0;
      const orphans = await o.store.claimOrphans(limit);
      if (orphans.length === 0) return 0;
      o.batcher.startClaimed(orphans);
      o.logger.info({ runs: orphans.length }, 'run dispatch: sweeper claimed runs nobody started');
      return orphans.length;
    } catch (err) {
      o.logger.warn({ err }, 'run dispatch: sweep failed');
      return 0;
    } finally {
      isSweeping = false;
    }
  }

  const timer = o.sweepIntervalMs > 0 ? setInterval(() => void sweep(), o.sweepIntervalMs) : undefined;
  timer?.unref();

  return {
    sweep,
    get isSweeping() {
      return isSweeping;
    },
    stop() {
      stopped = true;
      if (timer) clearInterval(timer);
    },
  };
}
