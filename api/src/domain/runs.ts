import { newId } from '@promptmill/infra';
import { findPrompt, insertRun, type PromptRow, type Sql, type VersionRow } from '@promptmill/infra/db';
import type { RunMode, RunOutcome, RunPromptWorkflowInput, RunRetryPolicy } from '@promptmill/workflows';
import { WorkflowFailedError } from '@temporalio/client';
import type { AuthContext } from '../auth/auth-context.ts';
import { AppError } from '../http/app-error.ts';
import type { TemporalHandle } from '../temporal.ts';
import { renderVersion } from './compiled-versions.ts';
import { resolveVersion, type VersionSelector } from './prompts.ts';

export interface RunDeps {
  sql: Sql;
  temporal: TemporalHandle;
  retry: RunRetryPolicy;
  syncTimeoutMs: number;
}

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
}

/** Seed 000's message for a prompt that cannot be run by name. */
export function promptNotRunnable(name: string): AppError {
  return new AppError('PROMPT_NOT_FOUND', `Prompt '${name}' not found or has no PRODUCTION version`);
}

/** Resolve prompt and version, check the variables, render: everything before any model is called. */
export async function prepareRun(
  deps: RunDeps,
  auth: AuthContext,
  req: RunRequest,
  mode: RunMode,
): Promise<PreparedRun> {
  const prompt = await findPrompt(deps.sql, auth.orgId, req.prompt);
  if (!prompt) throw promptNotRunnable(req.prompt);
  if (auth.promptIds && !auth.promptIds.includes(prompt.id)) {
    throw new AppError('FORBIDDEN', 'This API key is not allowed to run this prompt');
  }
  const version = await resolveVersion(deps.sql, prompt, req);
  if (!version) {
    if (req.version !== undefined) {
      throw new AppError('VERSION_NOT_FOUND', `Prompt '${req.prompt}' has no version ${req.version}`);
    }
    if (req.label !== undefined && req.label !== 'production') {
      throw new AppError(
        'VERSION_NOT_FOUND',
        `Prompt '${req.prompt}' has no version labelled '${req.label}'`,
      );
    }
    throw promptNotRunnable(req.prompt);
  }
  const messages = renderVersion(version, req.variables);
  const runId = newId('run');
  return {
    runId,
    prompt,
    version,
    input: {
      runId,
      orgId: auth.orgId,
      keyId: auth.keyId,
      promptId: prompt.id,
      promptName: prompt.name,
      promptVersion: version.version,
      versionId: version.id,
      model: version.model,
      fallbackModels: version.fallbackModels,
      messages,
      params: version.params,
      mode,
      retry: deps.retry,
    },
  };
}

export async function startRunWorkflow(deps: RunDeps, prepared: PreparedRun, req: RunRequest): Promise<void> {
  await insertRun(deps.sql, {
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
    idempotencyKey: null,
    requestHash: null,
  });
  await deps.temporal.client.workflow.start('runPromptWorkflow', {
    workflowId: prepared.runId,
    taskQueue: deps.temporal.taskQueue,
    args: [prepared.input],
  });
}

/** Waits for the run's workflow; after `timeoutMs` → 504 RUN_TIMEOUT (the run goes on). */
export async function awaitRunOutcome(deps: RunDeps, runId: string, timeoutMs: number): Promise<RunOutcome> {
  const handle = deps.temporal.client.workflow.getHandle(runId);
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () =>
        reject(
          new AppError(
            'RUN_TIMEOUT',
            `Run did not finish within ${Math.round(timeoutMs / 1000)} s; it goes on: poll /v1/runs/${runId}`,
            {
              extra: { runId },
            },
          ),
        ),
      timeoutMs,
    );
  });
  try {
    return (await Promise.race([handle.result(), timeout])) as RunOutcome;
  } catch (err) {
    if (err instanceof WorkflowFailedError) {
      throw new AppError('INTERNAL_ERROR', 'Run failed unexpectedly', { extra: { runId } });
    }
    throw err;
  } finally {
    clearTimeout(timer);
  }
}

/** A finished run that did not succeed → the API error its code maps to. */
export function outcomeError(outcome: RunOutcome): AppError {
  const code = outcome.error?.code ?? 'PROVIDER_ERROR';
  const mapped = code === 'PROVIDER_REJECTED' || code === 'STREAM_BROKEN' ? 'PROVIDER_ERROR' : code;
  return new AppError(mapped, outcome.error?.message ?? 'Run failed', { extra: { runId: outcome.runId } });
}
