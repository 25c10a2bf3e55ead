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
type Readiness = z.infer<typeof readinessSchema>['checks'];
const TAG = 'Operations';

export interface HealthDeps {
  sql: Sql;
  temporal: TemporalHandle;
  registry: Registry;
  /** how long one readiness result answers every /readyz (default 1000 ms) */
  readinessCacheMs?: number;
  monotonicMs?: () => number;
}

/**
 * Readiness without amplification: /readyz needs no credentials, so a flood of it must not become a flood
 * of Postgres queries and Temporal health calls. Concurrent requests share the check in flight, and a
 * result answers every request for `cacheMs` after it (so at most one check per `cacheMs` per process).
 */
function readinessProbe(deps: HealthDeps): () => Promise<Readiness> {
  const cacheMs = deps.readinessCacheMs ?? 1_000;
  const monotonicMs = deps.monotonicMs ?? (() => performance.now());
  let last: { at: number; checks: Readiness } | undefined;
  let inFlight: Promise<Readiness> | undefined;
  const run = async (): Promise<Readiness> => {
    const [postgres, temporal] = await Promise.all([
      check(() => deps.sql`SELECT 1`, 2000),
      check(() => deps.temporal.connection.healthService.check({}), 2000),
    ]);
    return { postgres, temporal };
  };
  return () => {
    if (last && monotonicMs() - last.at < cacheMs) return Promise.resolve(last.checks);
    inFlight ??= run()
      .then((checks) => {
        last = { at: monotonicMs(), checks };
        return checks;
      })
      .finally(() => {
        inFlight = undefined;
      });
    return inFlight;
  };
}

export function healthRoutes(deps: HealthDeps): RouteDef[] {
  const readiness = readinessProbe(deps);
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
      summary:
        'Readiness: Postgres and Temporal are reachable (one check per second per process, shared by concurrent requests)',
      tag: TAG,
      auth: 'none',
      responses: {
        200: { description: 'Ready', schema: readinessSchema },
        503: { description: 'Not ready; `checks` says which part is unreachable', schema: readinessSchema },
      },
      handler: async ({ res }) => {
        const { postgres, temporal } = await readiness();
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
