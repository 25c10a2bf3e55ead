import { newId } from '@promptmill/infra';
import {
  findOrgById,
  findRun,
  findVersionById,
  finishChainRun as finishChainRunQuery,
  insertReservedRun,
  markStepRunning,
  recordStepEnd,
  type Sql,
  type VersionRow,
} from '@promptmill/infra/db';
import {
  type ChainActivities,
  type ChatMessage,
  type ErrorCode,
  isErrorCode,
  MAX_RUN_PAYLOAD_BYTES,
  type RunError,
  type RunPromptWorkflowInput,
  runTokenReservation,
  type StartStepRequest,
  type StartStepResult,
} from '@promptmill/workflows';
import {
  applyDefaults,
  checkVariables,
  LEGACY_MAX_BLOCK_DEPTH,
  parseTemplate,
  renderTemplates,
  TemplateBudgetError,
} from '@promptmill/workflows/template';
import type { WorkerMetrics } from '../metrics.ts';
import { recordCompletion } from './complete-run.activity.ts';

export interface ChainActivityDeps {
  sql: Sql;
  metrics: WorkerMetrics;
}

const fail = (code: ErrorCode, message: string): StartStepResult => ({ ok: false, error: { code, message } });

/** `allowed_models` entries are exact names or `prefix*`; NULL allows every model (as the api checks). */
const isModelAllowed = (allowed: readonly string[] | null, model: string) =>
  allowed === null || allowed.some((p) => (p.endsWith('*') ? model.startsWith(p.slice(0, -1)) : p === model));

/** A step's messages with its resolved variables, or why they cannot be rendered (as a single run's 400). */
function renderStep(version: VersionRow, provided: Record<string, unknown>): ChatMessage[] | RunError {
  const { missing, unknown } = checkVariables(version.variables, provided);
  if (missing.length > 0) {
    return { code: 'MISSING_VARIABLES', message: `Missing required variables: ${missing.join(', ')}` };
  }
  if (unknown.length > 0)
    return { code: 'UNKNOWN_VARIABLES', message: `Unknown variables: ${unknown.join(', ')}` };
  const sources = version.messages ?? [{ role: 'user' as const, content: version.template ?? '' }];
  try {
    const parsed = sources.map((m) => parseTemplate(m.content, { maxBlockDepth: LEGACY_MAX_BLOCK_DEPTH }));
    const contents = renderTemplates(parsed, applyDefaults(version.variables, provided));
    const messages = sources.map((m, i) => ({ role: m.role, content: contents[i] ?? '' }));
    if (Buffer.byteLength(JSON.stringify(messages), 'utf8') > MAX_RUN_PAYLOAD_BYTES) {
      return { code: 'PROMPT_TOO_LARGE', message: 'The rendered prompt of this step is too large' };
    }
    return messages;
  } catch (err) {
    if (!(err instanceof TemplateBudgetError)) throw err;
    const code = err.reason === 'output_size' ? 'PROMPT_TOO_LARGE' : 'TEMPLATE_BUDGET_EXCEEDED';
    return { code, message: err.message };
  }
}

/**
 * The chain workflow's bookkeeping. Each activity is idempotent (a retry or a replay after a
 * crash repeats it harmlessly): the step's run id is drawn by the workflow, so a repeated start
 * finds the run it made; a step's and a chain's ends are recorded once.
 */
export function createChainActivities(deps: ChainActivityDeps): ChainActivities {
  const { sql } = deps;

  async function startChainStep(req: StartStepRequest): Promise<StartStepResult> {
    const { step } = req;
    const [version, org] = await Promise.all([
      findVersionById(sql, step.promptId, step.versionId),
      findOrgById(sql, req.orgId),
    ]);
    if (!version || !org) return fail('VERSION_NOT_FOUND', `Step '${step.id}': its prompt version is gone`);
    const rendered = renderStep(version, req.variables);
    if (!Array.isArray(rendered)) return { ok: false, error: rendered };
    const input: RunPromptWorkflowInput = {
      runId: req.runId,
      orgId: req.orgId,
      keyId: req.keyId,
      promptId: step.promptId,
      promptName: step.promptName,
      promptVersion: step.promptVersion,
      versionId: step.versionId,
      model: step.model,
      fallbackModels: version.fallbackModels.filter((m) => isModelAllowed(org.allowedModels, m)),
      messages: rendered,
      params: version.params,
      mode: 'async',
      retry: req.retry,
    };
    if (!(await findRun(sql, req.orgId, req.runId))) {
      // the budget is checked here, before each step: the run reserves its tokens as a single run does
      const budget =
        org.tokenBudget === null
          ? null
          : { budget: org.tokenBudget, tokens: runTokenReservation(rendered, version.params) };
      const inserted = await insertReservedRun(
        sql,
        {
          id: req.runId,
          orgId: req.orgId,
          keyId: req.keyId,
          promptId: step.promptId,
          versionId: step.versionId,
          promptVersion: step.promptVersion,
          mode: 'async',
          variables: req.variables,
          metadata: { chainRunId: req.chainRunId, stepId: step.id },
          webhookUrl: null,
          model: step.model,
          idempotencyKey: null,
          requestHash: null,
          chainRunId: req.chainRunId,
        },
        budget,
      );
      if (inserted.outcome === 'refused') {
        return fail(
          'INSUFFICIENT_TOKENS',
          `Monthly token budget exhausted: ${inserted.used} of ${org.tokenBudget} tokens used this month`,
        );
      }
    }
    await markStepRunning(sql, req.chainRunId, step.id, req.runId);
    return { ok: true, input };
  }

  const recordChainStep: ChainActivities['recordChainStep'] = async (req) => {
    const zero = { promptTokens: 0, completionTokens: 0, totalTokens: 0, cost: 0 };
    let run = req.runId ? await findRun(sql, req.orgId, req.runId) : undefined;
    if (run && (run.status === 'queued' || run.status === 'running')) {
      // the run never recorded an end (never started, or its workflow did not complete): close it
      // through the ordinary run completion, so its attempts, reservation and events are settled
      const status = req.status ?? 'failed';
      const error = req.error ?? {
        code: 'INTERNAL_ERROR' as const,
        message: 'The step run did not complete',
      };
      await recordCompletion(deps, {
        runId: run.id,
        orgId: run.orgId,
        keyId: run.keyId,
        promptId: run.promptId,
        promptVersion: run.promptVersion,
        promptName: req.promptName,
        status,
        output: null,
        model: run.model,
        errorCode: error.code,
        errorMessage: error.message,
        latencyMs: Date.now() - run.createdAt.getTime(),
      });
      run = await findRun(sql, req.orgId, run.id);
    }
    if (!run) {
      const end = await recordStepEnd(sql, req.chainRunId, req.stepId, {
        status: req.status ?? 'failed',
        output: null,
        error: req.error ?? null,
        usage: zero,
        attempts: 0,
      });
      return { status: end.status, output: end.output, error: end.error };
    }
    const status = run.status as 'succeeded' | 'failed' | 'canceled';
    let error: RunError | null = run.errorCode
      ? {
          code: isErrorCode(run.errorCode) ? run.errorCode : 'INTERNAL_ERROR',
          message: run.errorMessage ?? '',
        }
      : null;
    let stepStatus = status;
    if (status === 'succeeded' && req.isJsonRead && !isJson(run.output)) {
      stepStatus = 'failed';
      error = { code: 'INVALID_STEP_OUTPUT', message: `Step '${req.stepId}' output is not JSON` };
    }
    const end = await recordStepEnd(sql, req.chainRunId, req.stepId, {
      status: stepStatus,
      output: run.output,
      error,
      usage: {
        promptTokens: run.promptTokens,
        completionTokens: run.completionTokens,
        totalTokens: run.promptTokens + run.completionTokens,
        cost: Number(run.cost),
      },
      attempts: run.attempts,
    });
    return { status: end.status, output: end.output, error: end.error };
  };

  return {
    startChainStep,
    recordChainStep,
    async finishChainRun(req) {
      const { usage } = await finishChainRunQuery(sql, { ...req, eventId: newId('event') });
      return { usage };
    },
  };
}

function isJson(text: string | null): boolean {
  if (text === null) return false;
  try {
    JSON.parse(text);
    return true;
  } catch {
    return false;
  }
}
