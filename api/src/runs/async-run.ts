import {
  findPrompt,
  findRunByIdempotencyKey,
  type RunStatus,
  releaseExpiredIdempotencyKey,
} from '@promptmill/infra/db';
import type { AuthContext } from '../auth/auth-context.ts';
import { assertPromptAllowed, isPromptAllowed } from '../auth/scopes.ts';
import { AppError } from '../http/app-error.ts';
import { assertDeliverableUrl } from '../http/webhook-url.ts';
import { noProductionVersion } from '../prompts/versions.ts';
import type { RunDeps } from './deps.ts';
import { IDEMPOTENCY_TTL_SECONDS } from './idempotency.ts';
import {
  type CacheStatus,
  type IdempotencyClaim,
  newRunRow,
  prepareRun,
  type RunRequest,
  recordCacheHit,
} from './prepare-run.ts';
import { insertBudgetedRun } from './run-budget.ts';
import { lookupRunCache } from './run-cache.ts';

export interface AsyncRunResult {
  runId: string;
  status: RunStatus;
  /** true when an earlier request with the same Idempotency-Key created the run */
  replayed: boolean;
  cache: CacheStatus;
}

/**
 * The run an earlier request with this key made; 409 when that request had another body, or when its
 * run is of a prompt this key may not use (keys are per organization: another key may have made it).
 */
async function findReplay(
  deps: RunDeps,
  auth: AuthContext,
  claim: IdempotencyClaim,
): Promise<AsyncRunResult | undefined> {
  const orgId = auth.org.id;
  const existing = await findRunByIdempotencyKey(deps.sql, orgId, claim.key, IDEMPOTENCY_TTL_SECONDS);
  if (!existing) return undefined;
  if (existing.isExpired) {
    await releaseExpiredIdempotencyKey(deps.sql, orgId, claim.key, IDEMPOTENCY_TTL_SECONDS);
    return undefined;
  }
  if (existing.requestHash !== claim.requestHash) {
    throw new AppError(
      'IDEMPOTENCY_CONFLICT',
      'This Idempotency-Key was already used with a different request body',
    );
  }
  // same body, yet another prompt (the name moved since): neither its id nor its status is ours to see
  if (!isPromptAllowed(auth, existing.promptId)) {
    throw new AppError(
      'IDEMPOTENCY_CONFLICT',
      'This Idempotency-Key was already used for a run this API key may not see',
    );
  }
  return { runId: existing.id, status: existing.status, replayed: true, cache: undefined };
}

/**
 * An async run: queued (its row, with the workflow input, is committed; the dispatcher starts the
 * workflow in the background), answered from the cache, or — with an Idempotency-Key already used
 * for the same body within 24 h — the earlier run. Two concurrent requests with one key make one
 * run: the unique index decides, the loser answers with the winner's run.
 */
export async function createAsyncRun(
  deps: RunDeps,
  auth: AuthContext,
  req: RunRequest,
  idempotency?: IdempotencyClaim,
): Promise<AsyncRunResult> {
  if (req.webhookUrl)
    await assertDeliverableUrl(req.webhookUrl, 'webhookUrl', {
      allowPrivate: deps.webhookAllowPrivate ?? false,
    });
  if (idempotency) {
    // the access check a fresh request gets comes first: a replay must not reveal another prompt's run
    if (auth.key.promptIds !== null) {
      const prompt = await findPrompt(deps.sql, auth.org.id, req.prompt);
      if (!prompt) throw noProductionVersion(req.prompt);
      assertPromptAllowed(auth, prompt.id, 'run');
    }
    const replay = await findReplay(deps, auth, idempotency);
    if (replay) return replay;
  }
  const prepared = await prepareRun(deps, auth, req, 'async');
  const cached = await lookupRunCache(deps.sql, prepared.input.cacheKey);
  // a lost race retries: the winner's run is found, or its expired key was released meanwhile
  for (let round = 0; round < 3; round++) {
    const inserted = cached
      ? await recordCacheHit(deps, prepared, req, cached, idempotency)
      : await insertBudgetedRun(deps.sql, newRunRow(prepared, req, idempotency, true), prepared.budget);
    if (inserted) {
      if (cached) return { runId: prepared.runId, status: 'succeeded', replayed: false, cache: 'HIT' };
      deps.dispatcher.dispatch(prepared.input);
      return {
        runId: prepared.runId,
        status: 'queued',
        replayed: false,
        cache: prepared.input.cacheKey ? 'MISS' : undefined,
      };
    }
    if (!idempotency) break;
    const replay = await findReplay(deps, auth, idempotency);
    if (replay) return replay;
  }
  throw new AppError('SERVICE_UNAVAILABLE', 'The run could not be created; try again');
}
