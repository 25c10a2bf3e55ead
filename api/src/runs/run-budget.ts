/**
 * Monthly token budgets (`tokenBudget`) that hold under concurrency. A run reserves the most one
 * provider call of it can be billed (runTokenReservation: its prompt's upper bound plus its
 * `maxTokens`, or 4,096 when the version sets none) before it starts, atomically, in the
 * transaction that inserts its row: admitted while the month's used + reserved tokens are below the
 * budget, else 402 INSUFFICIENT_TOKENS and no run. Whatever ends the run releases the reservation
 * in the same transaction and adds what the run really used (infra `budget.queries.ts`).
 *
 * The bound: every run admitted before the last one had its tokens counted as used or reserved when
 * that last one was admitted, below the budget; so the month ends below budget + the last run's
 * reservation — at most one run's maximum over. Chains reserve per step with the same function.
 */
import {
  type BudgetUsage,
  insertReservedRun,
  monthBudgetUsage,
  type NewRun,
  type RunBudget,
  releaseStaleReservations,
  type Sql,
} from '@promptmill/infra/db';
import type { Logger } from '@promptmill/infra/logger';
import { type ChatMessage, type ModelParams, runTokenReservation } from '@promptmill/workflows';
import { AppError } from '../http/app-error.ts';

/** What a run of these messages and params reserves; null when the organization has no budget. */
export function runBudgetOf(
  tokenBudget: number | null,
  messages: readonly ChatMessage[],
  params: ModelParams,
): RunBudget | null {
  if (tokenBudget === null) return null;
  return { budget: tokenBudget, tokens: runTokenReservation(messages, params) };
}

export function insufficientTokens(budget: number, usage: BudgetUsage): AppError {
  const reserved = usage.reserved > 0 ? ` (${usage.reserved} more reserved by runs in progress)` : '';
  return new AppError(
    'INSUFFICIENT_TOKENS',
    `Monthly token budget exhausted: ${usage.used} of ${budget} tokens used this month${reserved}`,
  );
}

/**
 * 402 INSUFFICIENT_TOKENS once the month's budget is spent, for a run that reserves nothing: an
 * answer from the cache uses no tokens (so reservations do not stand in its way), but a spent budget
 * refuses every run alike.
 */
export async function assertBudgetLeft(sql: Sql, orgId: string, budget: RunBudget | null): Promise<void> {
  if (!budget) return;
  const usage = await monthBudgetUsage(sql, orgId);
  if (usage.used >= budget.budget) throw insufficientTokens(budget.budget, usage);
}

/**
 * Inserts a queued run with its reservation (one transaction); 402 INSUFFICIENT_TOKENS, and no
 * run, when the budget refuses it. false = the idempotency key was taken (nothing inserted).
 */
export async function insertBudgetedRun(sql: Sql, row: NewRun, budget: RunBudget | null): Promise<boolean> {
  const result = await insertReservedRun(sql, row, budget);
  if (result.outcome === 'refused') throw insufficientTokens(budget?.budget ?? 0, result);
  return result.outcome === 'inserted';
}

/** A run still going after this long no longer holds its reservation (its usage counts when it ends). */
export const RESERVATION_MAX_AGE_SECONDS = 3_600;
export const RESERVATION_SWEEP_INTERVAL_MS = 60_000;
const SWEEP_BATCH = 500;

/** Every api process releases, now and then, the reservations nothing else will (budget.queries.ts). */
export function startReservationSweep(sql: Sql, opts: { intervalMs: number; logger: Logger }): () => void {
  const timer = setInterval(() => {
    releaseStaleReservations(sql, { maxAgeSeconds: RESERVATION_MAX_AGE_SECONDS, limit: SWEEP_BATCH })
      .then((ids) => {
        if (ids.length > 0) opts.logger.info({ runs: ids.length }, 'budget: stale reservations released');
      })
      .catch((err: unknown) => opts.logger.warn({ err }, 'budget: reservation sweep failed'));
  }, opts.intervalMs);
  timer.unref();
  return () => clearInterval(timer);
}
