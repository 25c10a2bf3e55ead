/**
 * Crash safety of direct runs (SYNC_RUN_MODE=direct). A direct run exists as a row from before its
 * first provider call; if its api process dies mid-run, nothing else would ever end it. So the
 * process holds a lease on each run it executes (runs.direct_lease_until, set when the run is
 * inserted and renewed every third of DIRECT_RUN_LEASE_MS while it goes on: one UPDATE for all of
 * the process's long runs, none for runs shorter than that), and every api process — either mode —
 * sweeps for unfinished direct runs whose lease has run out and fails them: SERVICE_UNAVAILABLE,
 * with the usual completion (completeRun: the attempts recorded so far counted, the call the process
 * died in as interrupted at its estimate, the budget reservation released). Light on purpose: no
 * provider code here, so a workflow-mode api sweeps without loading it.
 */
import { completeRun, findOrphanedDirectRuns, renewDirectLeases, type Sql } from '@promptmill/infra/db';
import type { Logger } from '@promptmill/infra/logger';
import type { RunError, TokenUsage } from '@promptmill/workflows';

/** The error of a direct run whose api process stopped before it ended. */
export const ORPHANED_RUN_ERROR = {
  code: 'SERVICE_UNAVAILABLE',
  message: 'The api process running this run stopped',
} as const satisfies RunError;

/** Runs failed per sweep statement; a larger backlog drains over the next sweeps. */
const SWEEP_BATCH = 100;

export interface DirectLeases {
  /** this process executes `runId` (its lease was set when its row was inserted) */
  hold(runId: string): void;
  release(runId: string): void;
  stop(): void;
}

/** Renews the leases of this process's runs every third of `leaseMs`, those not renewed for that long. */
export function startDirectLeases(sql: Sql, opts: { leaseMs: number; logger: Logger }): DirectLeases {
  const every = Math.max(250, Math.floor(opts.leaseMs / 3));
  /** run id → when its lease was last set (this process's clock) */
  const held = new Map<string, number>();
  const timer = setInterval(() => {
    const now = Date.now();
    const due: string[] = [];
    for (const [runId, at] of held) {
      if (now - at < every) continue;
      due.push(runId);
      held.set(runId, now);
    }
    if (due.length === 0) return;
    renewDirectLeases(sql, due, opts.leaseMs).catch((err: unknown) =>
      opts.logger.warn({ err, runs: due.length }, 'direct runs: lease renewal failed'),
    );
  }, every);
  timer.unref();
  return {
    hold: (runId) => held.set(runId, Date.now()),
    release: (runId) => held.delete(runId),
    stop: () => clearInterval(timer),
  };
}

/** What the sweep records in the run metrics of a direct-mode process (a workflow-mode one has none). */
export interface SweepMetrics {
  recordRun(
    run: {
      orgId: string;
      promptName: string;
      promptVersion: number;
      model: string;
      status: string;
      latencyMs: number;
    },
    usage: TokenUsage,
  ): void;
}

/** Fails the direct runs whose lease ran out; returns how many this call recorded. */
export async function sweepOrphanedDirectRuns(sql: Sql, metrics?: SweepMetrics): Promise<number> {
  let failed = 0;
  for (const run of await findOrphanedDirectRuns(sql, SWEEP_BATCH)) {
    const latencyMs = Math.max(0, Date.now() - run.createdAt.getTime());
    const totals = await completeRun(sql, {
      runId: run.runId,
      orgId: run.orgId,
      keyId: run.keyId,
      promptId: run.promptId,
      promptVersion: run.promptVersion,
      status: 'failed',
      output: null,
      model: run.model,
      errorCode: ORPHANED_RUN_ERROR.code,
      errorMessage: ORPHANED_RUN_ERROR.message,
      latencyMs,
      cacheHit: false,
    });
    // another process's sweep (or the owner, late) got there first: it counted the run
    if (!totals.recorded) continue;
    failed += 1;
    metrics?.recordRun({ ...run, status: 'failed', latencyMs }, totals.usage);
  }
  return failed;
}

/** Every api process sweeps every third of its DIRECT_RUN_LEASE_MS. */
export function startOrphanSweep(
  sql: Sql,
  opts: { leaseMs: number; logger: Logger; metrics?: SweepMetrics | undefined },
): () => void {
  let isSweeping = false;
  const timer = setInterval(
    () => {
      if (isSweeping) return;
      isSweeping = true;
      sweepOrphanedDirectRuns(sql, opts.metrics)
        .then((n) => {
          if (n > 0) opts.logger.warn({ runs: n }, 'direct runs: failed the runs of a stopped api process');
        })
        .catch((err: unknown) => opts.logger.warn({ err }, 'direct runs: sweep failed'))
        .finally(() => {
          isSweeping = false;
        });
    },
    Math.max(250, Math.floor(opts.leaseMs / 3)),
  );
  timer.unref();
  return () => clearInterval(timer);
}
