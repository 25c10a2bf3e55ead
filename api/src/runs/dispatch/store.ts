import {
  abandonUndispatchedRuns,
  claimOrphanRuns,
  claimRunsForDispatch,
  failUnstartedRun,
  releaseDispatchClaims,
  type Sql,
} from '@promptmill/infra/db';
import type { DispatchStore } from './types.ts';

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
    fail: (id, code, message) => failUnstartedRun(sql, id, code, message),
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
  /** the runs waiting in memory hold at most about this much (beyond, the sweepers start them) */
  maxQueuedBytes: 64 * 1024 * 1024,
  sweepBatch: 200,
  minAgeSeconds: 5,
  staleClaimSeconds: 30,
  /** how long shutdown waits for the in-memory queue to drain */
  drainMs: 10_000,
} as const;
