import { type Response, Router } from 'express';
import { z } from 'zod';
import { getAuth } from '../auth/auth-context.ts';
import { requireScope } from '../auth/scopes.ts';
import { streamRun } from '../domain/run-stream.ts';
import { executeSyncRun, type RunDeps, type SyncRunResult } from '../domain/runs.ts';
import { AppError } from '../http/app-error.ts';
import { zodDetails } from '../http/error-handler.ts';
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

/** Every status the seed-compatible sync routes answer; errors are `{success:false, error, code}`. */
export const SYNC_RUN_RESPONSES = {
  200: {
    description:
      'The run succeeded. `X-Cache: HIT|MISS` when the version has cacheTtlSeconds (a hit costs nothing).',
    schema: syncRunResponseSchema,
  },
  400: {
    description: 'VALIDATION_ERROR (the message names the fields), MISSING_VARIABLES or UNKNOWN_VARIABLES',
  },
  402: { description: 'INSUFFICIENT_TOKENS (monthly token budget spent), PAST_DUE or DISPUTED' },
  403: { description: 'MODEL_NOT_ALLOWED, FORBIDDEN (scope or prompt restriction), API_NOT_ALLOWED, …' },
  404: { description: "PROMPT_NOT_FOUND: Prompt '<name>' not found or has no PRODUCTION version" },
  409: { description: 'RUN_CANCELED: the run was canceled while the request waited' },
  429: { description: 'RATE_LIMITED, with Retry-After' },
  500: { description: 'INTERNAL_ERROR' },
  502: { description: 'PROVIDER_ERROR after retries and fallbacks (the provider message is kept)' },
  504: { description: 'RUN_TIMEOUT: the run goes on; `runId` in the body, poll GET /v1/runs/:id' },
};

documentRoute({
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
});

/** Seed-compatible sync run (seed 000): `{success, output, promptVersion, durationMs, model, runId, usage}`. */
export function syncRunRoutes(deps: RunDeps): Router {
  const router = Router();
  router.post('/run', requireScope('runs:execute'), async (req, res) => {
    const started = performance.now();
    const body = parseSeedBody(syncRunBodySchema, req.body);
    const auth = getAuth(res);
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
    const result = await executeSyncRun(deps, auth, runReq);
    sendSyncRunResult(res, result, started);
  });
  return router;
}

/**
 * Validation for the seed-shaped routes: their error body has no `details`, so the message
 * itself names the fields (`promptName: Invalid input: expected string, received undefined`).
 */
export function parseSeedBody<S extends z.ZodType>(schema: S, body: unknown): z.infer<S> {
  const parsed = schema.safeParse(body ?? {});
  if (parsed.success) return parsed.data;
  const details = zodDetails(parsed.error);
  const message = `Invalid request: ${details.map((d) => `${d.field}: ${d.message}`).join('; ')}`;
  throw new AppError('VALIDATION_ERROR', message, { details });
}

/** The seed's 200 body; `X-Cache: HIT|MISS` when the version caches identical requests. */
export function sendSyncRunResult(res: Response, result: SyncRunResult, started: number): void {
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
