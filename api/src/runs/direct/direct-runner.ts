/**
 * Direct mode (SYNC_RUN_MODE=direct): the api process executes a sync or streaming run itself, with
 * the worker's provider-call module and the one run policy, and records it exactly as the run
 * workflow does — the run row (mode `direct`), its budget reservation, one usage row per provider
 * call, the run's completion (completeRun's rows, in direct-runs.queries.ts), the run metrics.
 *
 * Database statements of a run: one before the first provider call (run + reservation + attempt row,
 * insertDirectRun) and one after the last (that call's usage + the completion: completeRun, as the
 * workflow's happy path records it);
 * each retry or fallback adds one (the failed call's usage and the next call's row). No Temporal.
 *
 * Cancellation: the client going away (`signal`) or POST /v1/runs/:id/cancel from any api process
 * (a NOTIFY on the run-stream cancel channel) aborts the provider call at once; the run ends
 * `canceled` with what its calls used, as in workflow mode. A crash: leases.ts.
 */
import {
  type AttemptEnd,
  completeRun,
  finishAttempt,
  insertDirectRun,
  type RunCompletion,
  type RunTotals,
  type Sql,
  startAttempt,
} from '@promptmill/infra/db';
import type { Logger } from '@promptmill/infra/logger';
import type { StreamCancellations } from '@promptmill/infra/run-stream';
import {
  type AttemptLog,
  callProvider,
  type DeltaSink,
  type ProviderCallDeps,
  type RunMetrics,
} from '@promptmill/workers/provider-call';
import {
  type AttemptState,
  FIRST_ATTEMPT,
  isErrorCode,
  type ModelCallResult,
  modelsInOrder,
  nextAttempt,
  type RunError,
  type RunOutcome,
  type RunRetryPolicy,
} from '@promptmill/workflows';
import { newRunRow, type PreparedRun, type RunRequest } from '../prepare-run.ts';
import { insufficientTokens } from '../run-budget.ts';
import { type DirectLeases, ORPHANED_RUN_ERROR } from './leases.ts';

export interface DirectRunnerDeps {
  sql: Sql;
  logger: Logger;
  /** providers, prices, provider latency: the worker's provider-call module */
  call: ProviderCallDeps;
  metrics: RunMetrics;
  retry: RunRetryPolicy;
  leaseMs: number;
  leases: DirectLeases;
  /** POST /v1/runs/:id/cancel on any api process reaches the run here */
  cancellations: StreamCancellations;
}

export interface DirectRunOptions {
  /** aborts when the client goes away: the run is canceled */
  signal: AbortSignal;
  /** streaming runs: where each delta goes */
  sink?: DeltaSink | undefined;
  /** once the run row is committed, before the first provider call */
  onStarted?: (() => void) | undefined;
}

export interface DirectRunner {
  /** Executes the run; throws (402, and nothing recorded) when the budget refuses it. */
  run(prepared: PreparedRun, req: RunRequest, opts: DirectRunOptions): Promise<RunOutcome>;
  /** Resolves once the runs in flight have recorded their end, or after `timeoutMs`. */
  drain(timeoutMs: number): Promise<void>;
}

const CANCELED: RunError = { code: 'RUN_CANCELED', message: 'Run was canceled' };

/** Waits `ms`; false when `signal` aborts first. */
function sleep(ms: number, signal: AbortSignal): Promise<boolean> {
  if (signal.aborted) return Promise.resolve(false);
  return new Promise((resolve) => {
    const done = (ok: boolean) => {
      clearTimeout(timer);
      signal.removeEventListener('abort', onAbort);
      resolve(ok);
    };
    const onAbort = () => done(false);
    const timer = setTimeout(() => done(true), ms);
    signal.addEventListener('abort', onAbort, { once: true });
  });
}

export function createDirectRunner(deps: DirectRunnerDeps): DirectRunner {
  const { sql, logger } = deps;
  const inFlight = new Set<Promise<unknown>>();

  async function execute(
    prepared: PreparedRun,
    req: RunRequest,
    opts: DirectRunOptions,
  ): Promise<RunOutcome> {
    const started = performance.now();
    const { input } = prepared;
    const { runId } = input;
    const models = modelsInOrder(input.model, input.fallbackModels);
    const cancel = deps.cancellations.watch(runId);
    // either one cancels the run (forwarded by hand: AbortSignal.any is costly per request)
    const stop = new AbortController();
    const { signal } = stop;
    const abort = () => stop.abort();
    if (opts.signal.aborted) stop.abort();
    opts.signal.addEventListener('abort', abort, { once: true });
    cancel.signal.addEventListener('abort', abort, { once: true });
    let isInserted = false;
    /** the last call's usage: written with the next call's row, or with the completion */
    let pending: AttemptEnd | undefined;
    const log: AttemptLog = {
      async open(start) {
        if (isInserted) {
          if (pending) await finishAttempt(sql, pending);
          pending = undefined;
          // (a run a sweep already failed opens no row: its completion below finds it recorded)
          await startAttempt(sql, start);
          return undefined;
        }
        const row = newRunRow(prepared, req);
        const inserted = await insertDirectRun(sql, row, prepared.budget, start, deps.leaseMs);
        if (inserted.outcome === 'refused') throw insufficientTokens(prepared.budget?.budget ?? 0, inserted);
        isInserted = true;
        deps.leases.hold(runId);
        opts.onStarted?.();
        return undefined;
      },
      async finish(end) {
        pending = end;
      },
    };

    let state: AttemptState = FIRST_ATTEMPT;
    let result: ModelCallResult | undefined;
    let status: RunOutcome['status'] = 'failed';
    let error: RunError = { code: 'PROVIDER_ERROR', message: 'No model was called' };
    try {
      for (;;) {
        const outcome = await callProvider(deps.call, {
          req: {
            runId,
            orgId: input.orgId,
            keyId: input.keyId,
            promptId: input.promptId,
            promptVersion: input.promptVersion,
            model: models[state.modelIndex]!,
            modelIndex: state.modelIndex,
            messages: input.messages,
            params: input.params,
            mode: input.mode,
          },
          attempt: state.attempt,
          signal,
          log,
          sink: opts.sink,
        });
        if (outcome.ok) {
          result = outcome.result;
          status = 'succeeded';
          break;
        }
        const { failure } = outcome;
        if (outcome.canceled || signal.aborted) {
          status = 'canceled';
          error = CANCELED;
          break;
        }
        if (failure.detail !== undefined) {
          logger.warn(
            {
              runId,
              model: models[state.modelIndex],
              attempt: state.attempt,
              code: failure.code,
              message: failure.message,
              detail: failure.detail,
            },
            'model call failed',
          );
        }
        error = { code: failure.code, message: failure.message };
        const next = nextAttempt({ retry: deps.retry, modelCount: models.length }, state, failure);
        if (next.kind === 'stop') break;
        if (next.kind === 'retry' && !(await sleep(next.delayMs, signal))) {
          status = 'canceled';
          error = CANCELED;
          break;
        }
        state = next.state;
      }
    } catch (err) {
      if (!isInserted) throw err; // before the run existed (402, the database): nothing to record
      // the run exists: end it (a failed write here leaves it to the sweep once its lease lapses)
      logger.error({ err, runId }, 'direct run failed unexpectedly');
      status = 'failed';
      error = { code: 'INTERNAL_ERROR', message: 'Run failed unexpectedly' };
    } finally {
      cancel.release();
      opts.signal.removeEventListener('abort', abort);
    }

    try {
      const model = result?.model ?? input.model;
      const latencyMs = Math.round(performance.now() - started);
      const completion: RunCompletion = {
        runId,
        orgId: input.orgId,
        keyId: input.keyId,
        promptId: input.promptId,
        promptVersion: input.promptVersion,
        status,
        output: result?.output ?? null,
        model,
        errorCode: status === 'succeeded' ? null : error.code,
        errorMessage: status === 'succeeded' ? null : error.message,
        latencyMs,
        cacheHit: false,
        cacheKey: status === 'succeeded' ? input.cacheKey : undefined,
        cacheTtlSeconds: input.cacheTtlSeconds,
      };
      // the workflow's completion (one transaction, with the last call's row): the same rows, and the
      // same pm_run_done NOTIFY when it commits
      const totals: RunTotals = await completeRun(sql, completion, pending);
      if (!totals.recorded) {
        // a sweep failed the run first (this process stalled past its lease): that is its outcome
        const final = totals.final;
        if (!final) return outcomeOf(runId, 'failed', null, model, totals, started, ORPHANED_RUN_ERROR);
        const code = final.errorCode;
        const finalError: RunError | null =
          code === null
            ? null
            : { code: isErrorCode(code) ? code : 'INTERNAL_ERROR', message: final.errorMessage ?? '' };
        return outcomeOf(runId, final.status, final.output, final.model, totals, started, finalError);
      }
      deps.metrics.recordRun(
        {
          orgId: input.orgId,
          promptName: input.promptName,
          promptVersion: input.promptVersion,
          model,
          status,
          latencyMs,
        },
        totals.usage,
      );
      return outcomeOf(
        runId,
        status,
        result?.output ?? null,
        model,
        totals,
        started,
        status === 'succeeded' ? null : error,
      );
    } finally {
      deps.leases.release(runId);
    }
  }

  return {
    run(prepared, req, opts) {
      const running = execute(prepared, req, opts);
      const settled = running.then(
        () => {},
        () => {},
      );
      inFlight.add(settled);
      void settled.finally(() => inFlight.delete(settled));
      return running;
    },
    async drain(timeoutMs) {
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([
        Promise.all(inFlight),
        new Promise<void>((resolve) => {
          timer = setTimeout(resolve, timeoutMs);
        }),
      ]);
      clearTimeout(timer);
    },
  };
}

function outcomeOf(
  runId: string,
  status: RunOutcome['status'],
  output: string | null,
  model: string,
  totals: RunTotals,
  started: number,
  error: RunError | null,
): RunOutcome {
  return {
    runId,
    status,
    output,
    model,
    usage: totals.usage,
    attempts: totals.attempts,
    durationMs: Math.round(performance.now() - started),
    error,
  };
}
