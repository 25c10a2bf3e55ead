import type { Sql } from '@promptmill/infra/db';
import type { Registry } from 'prom-client';
import { z } from 'zod';
import type { TemporalHandle } from '../temporal.ts';
import { defineRoute, type RouteDef } from './define-route.ts';

async function check(fn: () => Promise<unknown>, timeoutMs: number): Promise<'ok' | 'unreachable'> {
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      fn(),
      new Promise((_, reject) => {
        timer = setTimeout(() => reject(new Error('timeout')), timeoutMs);
      }),
    ]);
    return 'ok';
  } catch {
    return 'unreachable';
  } finally {
    clearTimeout(timer);
  }
}

const readinessSchema = z.object({
  status: z.enum(['ready', 'not_ready']),
  checks: z.object({ postgres: z.enum(['ok', 'unreachable']), temporal: z.enum(['ok', 'unreachable']) }),
});
const TAG = 'Operations';

export function healthRoutes(deps: { sql: Sql; temporal: TemporalHandle; registry: Registry }): RouteDef[] {
  return [
    defineRoute({
      method: 'get',
      path: '/healthz',
      summary: 'Liveness: the process answers',
      tag: TAG,
      auth: 'none',
      responses: { 200: { description: 'Alive', schema: z.object({ status: z.literal('ok') }) } },
      handler: ({ res }) => {
        res.json({ status: 'ok' });
      },
    }),
    defineRoute({
      method: 'get',
      path: '/readyz',
      summary: 'Readiness: Postgres and Temporal are reachable',
      tag: TAG,
      auth: 'none',
      responses: {
        200: { description: 'Ready', schema: readinessSchema },
        503: { description: 'Not ready; `checks` says which part is unreachable', schema: readinessSchema },
      },
      handler: async ({ res }) => {
        const [postgres, temporal] = await Promise.all([
          check(() => deps.sql`SELECT 1`, 2000),
          check(() => deps.temporal.connection.healthService.check({}), 2000),
        ]);
        const ready = postgres === 'ok' && temporal === 'ok';
        res
          .status(ready ? 200 : 503)
          .json({ status: ready ? 'ready' : 'not_ready', checks: { postgres, temporal } });
      },
    }),
    defineRoute({
      method: 'get',
      path: '/metrics',
      summary: 'Prometheus metrics of this api process (no credentials: bind or firewall it in production)',
      tag: TAG,
      auth: 'none',
      responses: {
        200: {
          description: 'Prometheus text exposition format',
          schema: z.string(),
          contentType: 'text/plain',
        },
      },
      handler: async ({ res }) => {
        res.type(deps.registry.contentType).send(await deps.registry.metrics());
      },
    }),
  ];
}
