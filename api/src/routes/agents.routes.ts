import { Router } from 'express';
import { z } from 'zod';
import { getAuth } from '../auth/auth-context.ts';
import { requireScope } from '../auth/scopes.ts';
import { executeSyncRun, type RunDeps } from '../domain/runs.ts';
import { documentRoute } from '../openapi/registry.ts';
import { parseSeedBody, SYNC_RUN_RESPONSES, sendSyncRunResult } from './run.routes.ts';

export const agentExecuteBodySchema = z
  .object({ variables: z.record(z.string(), z.unknown()).default({}) })
  .strict()
  .openapi('AgentExecuteBody');

const agentParamsSchema = z.object({
  promptId: z.string().min(1).openapi({ description: 'Prompt id (`pmt_…`) or name' }),
});

documentRoute({
  method: 'post',
  path: '/v1/agents/:promptId/execute',
  summary: "Run a prompt's production version and wait for its output (seed-compatible)",
  tag: 'Runs',
  scope: 'runs:execute',
  params: agentParamsSchema,
  body: agentExecuteBodySchema,
  errorShape: 'seed',
  responses: SYNC_RUN_RESPONSES,
});

/** Seed 004's agent call: the same run and answer as `POST /api/v1/run`, addressed by prompt id. */
export function agentRoutes(deps: RunDeps): Router {
  const router = Router();
  router.post('/agents/:promptId/execute', requireScope('runs:execute'), async (req, res) => {
    const started = performance.now();
    const { promptId } = agentParamsSchema.parse(req.params);
    const body = parseSeedBody(agentExecuteBodySchema, req.body);
    const result = await executeSyncRun(deps, getAuth(res), {
      prompt: promptId,
      variables: body.variables,
      label: 'production',
    });
    sendSyncRunResult(res, result, started);
  });
  return router;
}
