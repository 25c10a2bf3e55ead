import type { Response } from 'express';
import { defineRoute, type RouteDef } from '../http/define-route.ts';
import type { RunDeps } from './deps.ts';
import { clientGoneSignal } from './direct/direct-sync.ts';
import {
  agentExecuteBodySchema,
  agentParamsSchema,
  SYNC_RUN_RESPONSES,
  syncRunBodySchema,
} from './runs.schemas.ts';
import { streamRun } from './stream-run.ts';
import { executeSyncRun, type SyncRunResult } from './sync-run.ts';

/** The seed's 200 body; `X-Cache: HIT|MISS` when the version caches identical requests. */
function sendSyncRunResult(res: Response, result: SyncRunResult, started: number): void {
  if (result.cache) res.setHeader('X-Cache', result.cache);
  res.json({
    success: true,
    output: result.output,
    promptVersion: result.promptVersion,
    durationMs: Math.round(performance.now() - started),
    model: result.model,
    runId: result.runId,
    usage: result.usage,
  });
}

/**
 * The seed-compatible sync runs: seed 000's `POST /api/v1/run` (also streaming) and seed 004's agent
 * call, the same run and answer addressed by prompt id. Both keep the seed's flat error shape.
 */
export function syncRunRoutes(deps: RunDeps): RouteDef[] {
  return [
    defineRoute({
      method: 'post',
      path: '/api/v1/run',
      summary: 'Run a prompt and wait for its output (seed-compatible)',
      tag: 'Runs',
      scope: 'runs:execute',
      body: syncRunBodySchema,
      errorShape: 'seed',
      responses: {
        ...SYNC_RUN_RESPONSES,
        200: {
          ...SYNC_RUN_RESPONSES[200],
          description: `${SYNC_RUN_RESPONSES[200].description} With \`stream: true\` the answer is \`text/event-stream\` (header \`X-Run-Id\`): \`delta\` events \`{delta}\` as the model produces them, then exactly one \`done\` \`{runId, output, model, promptVersion, durationMs, usage}\` or one \`error\` \`{code, message, runId}\` event; errors found before the run starts stay JSON. Closing the connection cancels the run.`,
        },
      },
      handler: async ({ res, body, auth }) => {
        const started = performance.now();
        const runReq = {
          prompt: body.promptName,
          variables: body.variables,
          version: body.version,
          label: body.label,
        };
        if (body.stream) {
          await streamRun(deps, auth, runReq, res);
          return;
        }
        sendSyncRunResult(res, await executeSyncRun(deps, auth, runReq, clientGoneSignal(res)), started);
      },
    }),
    defineRoute({
      method: 'post',
      path: '/v1/agents/:promptId/execute',
      summary: "Run a prompt's production version and wait for its output (seed-compatible)",
      tag: 'Runs',
      scope: 'runs:execute',
      params: agentParamsSchema,
      body: agentExecuteBodySchema,
      errorShape: 'seed',
      responses: SYNC_RUN_RESPONSES,
      handler: async ({ res, params, body, auth }) => {
        const started = performance.now();
        const result = await executeSyncRun(
          deps,
          auth,
          { prompt: params.promptId, variables: body.variables, label: 'production' },
          clientGoneSignal(res),
        );
        sendSyncRunResult(res, result, started);
      },
    }),
  ];
}
