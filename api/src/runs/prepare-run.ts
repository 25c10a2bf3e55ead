import { newId } from '@promptmill/infra';
import {
  insertCacheHitRun,
  type NewRun,
  type PromptRow,
  type RunBudget,
  type VersionRow,
} from '@promptmill/infra/db';
import type { RunMode, RunPromptWorkflowInput } from '@promptmill/workflows';
import type { AuthContext } from '../auth/auth-context.ts';
import { assertPromptAllowed } from '../auth/scopes.ts';
import { AppError } from '../http/app-error.ts';
import { renderVersion } from '../prompts/compiled-versions.ts';
import { findRunPrompt } from '../prompts/run-prompt-cache.ts';
import { noProductionVersion, type VersionSelector, versionNotFound } from '../prompts/versions.ts';
import type { RunDeps } from './deps.ts';
import { assertBudgetLeft, runBudgetOf } from './run-budget.ts';
import { runCacheKey } from './run-cache.ts';
import { assertPromptFitsRun } from './run-payload.ts';

export interface RunRequest extends VersionSelector {
  prompt: string;
  variables: Record<string, unknown>;
  metadata?: Record<string, unknown> | null;
  webhookUrl?: string | null;
}

export interface PreparedRun {
  runId: string;
  prompt: PromptRow;
  version: VersionRow;
  input: RunPromptWorkflowInput;
  /** what the run reserves against the monthly token budget when it is inserted (run-budget.ts) */
  budget: RunBudget | null;
}

/** `X-Cache` value for a run of a version with cacheTtlSeconds; undefined when the version does not cache. */
export type CacheStatus = 'HIT' | 'MISS' | undefined;

export interface IdempotencyClaim {
  key: string;
  requestHash: string;
}

/** `allowed_models` entries are exact names or `prefix*`; NULL allows every model. */
export function isModelAllowed(allowed: readonly string[] | null, model: string): boolean {
  if (allowed === null) return true;
  return allowed.some((p) => (p.endsWith('*') ? model.startsWith(p.slice(0, -1)) : p === model));
}

/**
 * Resolve prompt and version, check the plan (model allowlist) and the variables, render, and size
 * the run's token reservation: everything before any model is called. The budget itself is checked
 * when the run is inserted (insertBudgetedRun) or answered from the cache (recordCacheHit).
 */
export async function prepareRun(
  deps: RunDeps,
  auth: AuthContext,
  req: RunRequest,
  mode: RunMode,
): Promise<PreparedRun> {
  // from this process's cache, else prompt and version in one statement; the checks keep their order
  // (a restricted key gets 403 first)
  const found = await findRunPrompt(deps.sql, auth.org.id, req.prompt, req);
  if (!found) throw noProductionVersion(req.prompt);
  const { prompt, version } = found;
  assertPromptAllowed(auth, prompt.id, 'run');
  if (!version) throw versionNotFound(req.prompt, req);
  const allowed = auth.org.allowedModels;
  if (!isModelAllowed(allowed, version.model)) {
    throw new AppError('MODEL_NOT_ALLOWED', `Model '${version.model}' is not allowed for this organization`);
  }
  const messages = renderVersion(version, req.variables);
  assertPromptFitsRun(messages);
  const runId = newId('run');
  const cacheKey = version.cacheTtlSeconds ? runCacheKey(version, req.variables) : undefined;
  return {
    runId,
    prompt,
    version,
    budget: runBudgetOf(auth.org.tokenBudget, messages, version.params),
    input: {
      runId,
      orgId: auth.org.id,
      keyId: auth.key.id,
      promptId: prompt.id,
      promptName: prompt.name,
      promptVersion: version.version,
      versionId: version.id,
      model: version.model,
      // fallbacks the plan may not use are skipped, not refused: the primary model is allowed
      fallbackModels: version.fallbackModels.filter((m) => isModelAllowed(allowed, m)),
      messages,
      params: version.params,
      mode,
      retry: deps.retry,
      ...(cacheKey ? { cacheKey, cacheTtlSeconds: version.cacheTtlSeconds ?? undefined } : {}),
    },
  };
}

/** The queued run row; async runs keep their workflow input for the dispatcher (the outbox). */
export function newRunRow(
  prepared: PreparedRun,
  req: RunRequest,
  idempotency?: IdempotencyClaim,
  withWorkflowInput = false,
): NewRun {
  return {
    id: prepared.runId,
    orgId: prepared.input.orgId,
    keyId: prepared.input.keyId,
    promptId: prepared.prompt.id,
    versionId: prepared.version.id,
    promptVersion: prepared.version.version,
    mode: prepared.input.mode,
    variables: req.variables,
    metadata: req.metadata ?? null,
    webhookUrl: req.webhookUrl ?? null,
    model: prepared.version.model,
    idempotencyKey: idempotency?.key ?? null,
    requestHash: idempotency?.requestHash ?? null,
    workflowInput: withWorkflowInput ? prepared.input : null,
  };
}

/**
 * Records a run answered from the identical-request cache (no tokens: nothing reserved, but a spent
 * budget refuses it like any run); false when the idempotency key was taken.
 */
export async function recordCacheHit(
  deps: RunDeps,
  prepared: PreparedRun,
  req: RunRequest,
  cached: { output: string; model: string },
  idempotency?: IdempotencyClaim,
): Promise<boolean> {
  await assertBudgetLeft(deps.sql, prepared.input.orgId, prepared.budget);
  return insertCacheHitRun(deps.sql, {
    ...newRunRow(prepared, req, idempotency),
    model: cached.model,
    output: cached.output,
  });
}
