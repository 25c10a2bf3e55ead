import { Router } from 'express';
import { z } from 'zod';
import { getAuth } from '../auth/auth-context.ts';
import { requireScope } from '../auth/scopes.ts';
import { awaitRunOutcome, outcomeError, prepareRun, type RunDeps, startRunWorkflow } from '../domain/runs.ts';
import { documentRoute } from '../openapi/registry.ts';

export const syncRunBodySchema = z
  .object({
    promptName: z.string().trim().min(1).max(200),
    variables: z.record(z.string(), z.unknown()).default({}),
    stream: z.boolean().default(false),
    version: z.number().int().min(1).optional(),
    label: z.string().min(1).max(50).optional(),
  })
  .strict();

const usageSchema = z.object({
  promptTokens: z.number().int(),
  completionTokens: z.number().int(),
  totalTokens: z.number().int(),
  cost: z.number(),
});

export const syncRunResponseSchema = z
  .object({
    success: z.literal(true),
    output: z.string(),
    promptVersion: z.number().int(),
    durationMs: z.number().int(),
    model: z.string(),
    runId: z.string(),
    usage: usageSchema,
  })
  .openapi('SyncRunResult');

documentRoute({
  method: 'post',
  path: '/api/v1/run',
  summary: 'Run a prompt and wait for its output (seed-compatible)',
  tag: 'Runs',
  scope: 'runs:execute',
  body: syncRunBodySchema,
  errorShape: 'seed',
  responses: {
    200: { description: 'The run succeeded', schema: syncRunResponseSchema },
    400: { description: 'Invalid body, MISSING_VARIABLES or UNKNOWN_VARIABLES' },
    404: { description: "Prompt '<name>' not found or has no PRODUCTION version" },
    502: { description: 'PROVIDER_ERROR after retries and fallbacks' },
    504: { description: 'RUN_TIMEOUT: the run goes on; its id is in the body' },
  },
});

/** Seed-compatible sync run (seed 000): `{success, output, promptVersion, durationMs, model, runId, usage}`. */
export function syncRunRoutes(deps: RunDeps): Router {
  const router = Router();
  router.post('/run', requireScope('runs:execute'), async (req, res) => {
    const started = performance.now();
    const body = syncRunBodySchema.parse(req.body ?? {});
    const auth = getAuth(res);
    const runReq = {
      prompt: body.promptName,
      variables: body.variables,
      version: body.version,
      label: body.label,
    };
    const prepared = await prepareRun(deps, auth, runReq, 'sync');
    await startRunWorkflow(deps, prepared, runReq);
    const outcome = await awaitRunOutcome(deps, prepared.runId, deps.syncTimeoutMs);
    if (outcome.status !== 'succeeded') throw outcomeError(outcome);
    res.json({
      success: true,
      output: outcome.output,
      promptVersion: prepared.version.version,
      durationMs: Math.round(performance.now() - started),
      model: outcome.model,
      runId: outcome.runId,
      usage: outcome.usage,
    });
  });
  return router;
}
