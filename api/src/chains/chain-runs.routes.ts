import type { Response } from 'express';
import { defineRoute, type RouteDef } from '../http/define-route.ts';
import { many, one } from '../http/openapi.ts';
import { listBody, toPage } from '../http/pagination.ts';
import { preferredWaitSeconds, readIdempotencyKey, requestHash } from '../runs/idempotency.ts';
import { cancelChainRun } from './cancel-chain-run.ts';
import { chainRunLinks, getChainRun, listChainRunResources, waitForChainRun } from './chain-run-resource.ts';
import {
  chainIdParamsSchema,
  chainRunAcceptedSchema,
  chainRunIdParamsSchema,
  chainRunSchema,
  listChainRunsQuerySchema,
  startChainRunBodySchema,
} from './chains.schemas.ts';
import type { ChainDeps } from './deps.ts';
import { type StartedChainRun, startChainRun } from './start-chain-run.ts';

const TAG = 'Workflows';
const runBody = one(chainRunSchema);

function sendAccepted(res: Response, run: StartedChainRun): void {
  res.status(202).location(`/v1/workflow-runs/${run.id}`);
  res.json({ data: { id: run.id, status: run.status, links: chainRunLinks(run.id) } });
}

/** Chain runs: start (`/v1/workflows/:id/runs`), read, list and cancel (`/v1/workflow-runs`). */
export function chainRunRoutes(deps: ChainDeps): RouteDef[] {
  return [
    defineRoute({
      method: 'post',
      path: '/v1/workflows/:id/runs',
      summary:
        'Start a chain run (one Temporal workflow; Idempotency-Key: 1–255 chars, 24 h; Prefer: wait=N, N ≤ 60)',
      tag: TAG,
      scope: 'runs:execute',
      params: chainIdParamsSchema,
      body: startChainRunBodySchema,
      responses: {
        200: { description: 'With `Prefer: wait=N`: the chain run ended within N s', schema: runBody },
        202: {
          description:
            'Accepted: `Location: /v1/workflow-runs/<id>`. The same `Idempotency-Key` with the same body within 24 h answers with the same run (`Idempotent-Replayed: true`).',
          schema: chainRunAcceptedSchema,
        },
        400: {
          description:
            "VALIDATION_ERROR, MISSING_VARIABLES / UNKNOWN_VARIABLES (the chain's input), INVALID_CHAIN (a step's prompt no longer resolves)",
        },
        402: {
          description:
            'INSUFFICIENT_TOKENS: the monthly token budget is spent (each step is checked again before it starts)',
        },
        403: {
          description: "FORBIDDEN (runs:execute, or a step's prompt the key may not use), MODEL_NOT_ALLOWED",
        },
        404: { description: 'WORKFLOW_NOT_FOUND' },
        409: { description: 'IDEMPOTENCY_CONFLICT' },
      },
      handler: async ({ req, res, params, body, auth }) => {
        const key = readIdempotencyKey(req.get('idempotency-key'));
        const wait = preferredWaitSeconds(req.get('prefer'));
        const claim =
          key === undefined
            ? undefined
            : { key, requestHash: requestHash(`POST /v1/workflows/${params.id}/runs`, body) };
        const run = await startChainRun(deps, auth, params.id, body, claim);
        if (run.replayed) res.setHeader('Idempotent-Replayed', 'true');
        if (wait === undefined) return sendAccepted(res, run);
        res.setHeader('Preference-Applied', `wait=${wait}`);
        const ended = await waitForChainRun(deps, auth, run.id, wait);
        if (!ended) return sendAccepted(res, run);
        res.status(200).location(`/v1/workflow-runs/${run.id}`).json({ data: ended });
      },
    }),
    defineRoute({
      method: 'get',
      path: '/v1/workflows/:id/runs',
      summary: "A chain's runs, newest first (without their steps)",
      tag: TAG,
      scope: 'runs:read',
      params: chainIdParamsSchema,
      query: listChainRunsQuerySchema.omit({ workflow: true }),
      responses: {
        200: { description: 'A page of chain runs', schema: many(chainRunSchema) },
        404: { description: 'WORKFLOW_NOT_FOUND' },
      },
      handler: async ({ res, params, query, auth }) => {
        const page = toPage(query);
        const { runs, total } = await listChainRunResources(
          deps.sql,
          auth,
          { ...query, workflow: params.id },
          page,
          { isChainRequired: true },
        );
        res.json(listBody(runs, page, total));
      },
    }),
    defineRoute({
      method: 'get',
      path: '/v1/workflow-runs',
      summary: 'List chain runs, newest first (filters: workflow, status, from, to)',
      tag: TAG,
      scope: 'runs:read',
      query: listChainRunsQuerySchema,
      responses: {
        200: { description: 'A page of chain runs (without their steps)', schema: many(chainRunSchema) },
      },
      handler: async ({ res, query, auth }) => {
        const page = toPage(query);
        const { runs, total } = await listChainRunResources(deps.sql, auth, query, page);
        res.json(listBody(runs, page, total));
      },
    }),
    defineRoute({
      method: 'get',
      path: '/v1/workflow-runs/:id',
      summary: 'A chain run: status, per-step status, output, error, usage, timings, attempts, and totals',
      tag: TAG,
      scope: 'runs:read',
      params: chainRunIdParamsSchema,
      responses: {
        200: { description: 'The chain run', schema: runBody },
        404: { description: "WORKFLOW_RUN_NOT_FOUND (also for another organization's)" },
      },
      handler: async ({ res, params, auth }) => {
        res.json({ data: await getChainRun(deps.sql, auth, params.id) });
      },
    }),
    defineRoute({
      method: 'post',
      path: '/v1/workflow-runs/:id/cancel',
      summary: 'Cancel a chain run: its running steps are canceled, the others not started',
      tag: TAG,
      scope: 'runs:execute',
      params: chainRunIdParamsSchema,
      responses: {
        200: { description: 'The chain run has ended (`canceled`, or it finished first)', schema: runBody },
        202: { description: 'Cancellation requested; not recorded yet (poll it)', schema: runBody },
        404: { description: 'WORKFLOW_RUN_NOT_FOUND' },
        409: { description: 'INVALID_STATE: the chain run has already ended' },
      },
      handler: async ({ res, params, auth }) => {
        const { run, hasEnded } = await cancelChainRun(deps, auth, params.id);
        res.status(hasEnded ? 200 : 202).json({ data: run });
      },
    }),
  ];
}
