import { Router } from 'express';
import { z } from 'zod';
import { getAuth } from '../auth/auth-context.ts';
import { awaitRunOutcome, outcomeError, prepareRun, type RunDeps, startRunWorkflow } from '../domain/runs.ts';

export const syncRunBodySchema = z
  .object({
    promptName: z.string().trim().min(1).max(200),
    variables: z.record(z.string(), z.unknown()).default({}),
    stream: z.boolean().default(false),
    version: z.number().int().min(1).optional(),
    label: z.string().min(1).max(50).optional(),
  })
  .strict();

/** Seed-compatible sync run (seed 000): `{success, output, promptVersion, durationMs, model, runId, usage}`. */
export function syncRunRoutes(deps: RunDeps): Router {
  const router = Router();
  router.post('/run', async (req, res) => {
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
