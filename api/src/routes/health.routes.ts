import type { Sql } from '@promptmill/infra/db';
import { Router } from 'express';
import type { Registry } from 'prom-client';
import type { TemporalHandle } from '../temporal.ts';

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

export function healthRoutes(deps: { sql: Sql; temporal: TemporalHandle; registry: Registry }): Router {
  const router = Router();
  router.get('/healthz', (_req, res) => {
    res.json({ status: 'ok' });
  });
  router.get('/readyz', async (_req, res) => {
    const [postgres, temporal] = await Promise.all([
      check(() => deps.sql`SELECT 1`, 2000),
      check(() => deps.temporal.connection.healthService.check({}), 2000),
    ]);
    const ready = postgres === 'ok' && temporal === 'ok';
    res
      .status(ready ? 200 : 503)
      .json({ status: ready ? 'ready' : 'not_ready', checks: { postgres, temporal } });
  });
  router.get('/metrics', async (_req, res) => {
    res.type(deps.registry.contentType).send(await deps.registry.metrics());
  });
  return router;
}
