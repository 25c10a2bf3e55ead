import type { Response } from 'express';
import { defineRoute, type RouteDef } from '../http/define-route.ts';
import { many, one } from '../http/openapi.ts';
import { listBody, toPage } from '../http/pagination.ts';
import { type AsyncRunResult, createAsyncRun } from './async-run.ts';
import { cancelRun } from './cancel-run.ts';
import type { RunDeps } from './deps.ts';
import { preferredWaitSeconds, readIdempotencyKey, requestHash } from './idempotency.ts';
import { getRun, listRunResources, runLinks, waitForRun } from './run-resource.ts';
import {
  acceptedSchema,
  createRunBodySchema,
  listRunsQuerySchema,
  runIdParamsSchema,
  runSchema,
} from './runs.schemas.ts';

function sendAccepted(res: Response, result: AsyncRunResult): void {
  res.status(202).location(`/v1/runs/${result.runId}`);
  res.json({ data: { id: result.runId, status: result.status, links: runLinks(result.runId) } });
}

const TAG = 'Runs';
const runBody = one(runSchema);

/** Async runs (`POST /v1/runs`) and reading, listing and canceling runs of any mode. */
export function runsRoutes(deps: RunDeps): RouteDef[] {
  return [
    defineRoute({
      method: 'post',
      path: '/v1/runs',
      summary: 'Start an async run (Idempotency-Key: 1–255 chars, 24 h; Prefer: wait=N, N ≤ 60)',
      tag: TAG,
      scope: 'runs:execute',
      body: createRunBodySchema,
      responses: {
        200: {
          description:
            'With `Prefer: wait=N`: the run ended within N s (`Preference-Applied: wait=N`). A malformed `Prefer` is ignored.',
          schema: runBody,
        },
        202: {
          description:
            'Accepted: `Location: /v1/runs/<id>`. The same `Idempotency-Key` with the same body within 24 h answers with the same run (`Idempotent-Replayed: true`). `X-Cache: HIT|MISS` for versions with cacheTtlSeconds (a hit is already succeeded).',
          schema: acceptedSchema,
        },
        400: {
          description:
            'VALIDATION_ERROR (body or Idempotency-Key), MISSING_VARIABLES, UNKNOWN_VARIABLES, TEMPLATE_BUDGET_EXCEEDED (details: reason, limit, tag)',
        },
        402: { description: 'INSUFFICIENT_TOKENS: the monthly token budget is spent' },
        403: { description: 'MODEL_NOT_ALLOWED or FORBIDDEN' },
        404: { description: 'PROMPT_NOT_FOUND or VERSION_NOT_FOUND' },
        409: { description: 'IDEMPOTENCY_CONFLICT: the key was used with a different body' },
        413: {
          description:
            'PROMPT_TOO_LARGE: the rendered prompt is over 1,000,000 characters (details.reason `output_size`) or 1,500,000 bytes of UTF-8 JSON (`payload_size`); nothing is queued',
        },
      },
      handler: async ({ req, res, body, auth }) => {
        const key = readIdempotencyKey(req.get('idempotency-key'));
        const wait = preferredWaitSeconds(req.get('prefer'));
        const result = await createAsyncRun(
          deps,
          auth,
          body,
          key === undefined ? undefined : { key, requestHash: requestHash('POST /v1/runs', body) },
        );
        if (result.replayed) res.setHeader('Idempotent-Replayed', 'true');
        if (result.cache) res.setHeader('X-Cache', result.cache);
        if (wait === undefined) return sendAccepted(res, result);
        res.setHeader('Preference-Applied', `wait=${wait}`);
        const ended = await waitForRun(deps, auth, result.runId, wait);
        if (!ended) return sendAccepted(res, result);
        res.status(200).location(`/v1/runs/${result.runId}`).json({ data: ended });
      },
    }),
    defineRoute({
      method: 'get',
      path: '/v1/runs',
      summary: 'List runs, newest first',
      tag: TAG,
      scope: 'runs:read',
      query: listRunsQuerySchema,
      responses: { 200: { description: 'A page of runs', schema: many(runSchema) } },
      handler: async ({ res, query, auth }) => {
        const page = toPage(query);
        const { runs, total } = await listRunResources(
          deps.sql,
          auth,
          {
            status: query.status,
            prompt: query.prompt,
            from: query.from,
            to: query.to,
            chainRunId: query.chainRun,
          },
          page,
        );
        res.json(listBody(runs, page, total));
      },
    }),
    defineRoute({
      method: 'get',
      path: '/v1/runs/:id',
      summary: 'A run: status, output, error, usage, model, attempts, timings',
      tag: TAG,
      scope: 'runs:read',
      params: runIdParamsSchema,
      responses: {
        200: { description: 'The run', schema: runBody },
        404: { description: "RUN_NOT_FOUND (also for another organization's run)" },
      },
      handler: async ({ res, params, auth }) => {
        res.json({ data: await getRun(deps.sql, auth, params.id) });
      },
    }),
    defineRoute({
      method: 'post',
      path: '/v1/runs/:id/cancel',
      summary: 'Cancel a queued or running run',
      tag: TAG,
      scope: 'runs:execute',
      params: runIdParamsSchema,
      responses: {
        200: {
          description: 'The run has ended: `canceled` (or it finished before the cancellation reached it)',
          schema: runBody,
        },
        202: {
          description: 'Cancellation requested; the run has not recorded it yet (poll it)',
          schema: runBody,
        },
        404: { description: 'RUN_NOT_FOUND' },
        409: { description: 'INVALID_STATE: the run has already finished' },
      },
      handler: async ({ res, params, auth }) => {
        const { run, hasEnded } = await cancelRun(deps, auth, params.id);
        res.status(hasEnded ? 200 : 202).json({ data: run });
      },
    }),
  ];
}
