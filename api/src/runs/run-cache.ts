import { createHash } from 'node:crypto';
import {
  type CachedResult,
  deleteExpiredRunCache,
  findCachedResult,
  type Sql,
  type VersionRow,
} from '@promptmill/infra/db';
import type { Logger } from '@promptmill/infra/logger';
import { canonicalJson } from './idempotency.ts';

/**
 * Identical-request cache key: the version (immutable: template, model, fallbacks), the variables
 * as given and the model params, canonicalised so key order does not matter.
 */
export function runCacheKey(version: Pick<VersionRow, 'id' | 'params'>, variables: Record<string, unknown>) {
  return createHash('sha256')
    .update(version.id)
    .update('\n')
    .update(canonicalJson(variables))
    .update('\n')
    .update(canonicalJson(version.params))
    .digest('hex');
}

/** A fresh cached result for the key, if the version caches at all. */
export async function lookupRunCache(
  sql: Sql,
  cacheKey: string | undefined,
): Promise<CachedResult | undefined> {
  return cacheKey ? findCachedResult(sql, cacheKey) : undefined;
}

/** Rows per DELETE, and DELETEs per purge: a large backlog drains over several purges in short statements. */
export const RUN_CACHE_PURGE = { batch: 1000, maxBatches: 20 } as const;

/** Deletes expired cache rows batch by batch until a batch comes back short or `maxBatches` ran. */
export async function purgeExpiredRunCache(
  deleteBatch: (batch: number) => Promise<number>,
  { batch, maxBatches }: { batch: number; maxBatches: number } = RUN_CACHE_PURGE,
): Promise<number> {
  let total = 0;
  for (let i = 0; i < maxBatches; i++) {
    const deleted = await deleteBatch(batch);
    total += deleted;
    if (deleted < batch) break;
  }
  return total;
}

/**
 * Expired rows are never read (lookups filter on expires_at) but would otherwise stay forever: every
 * api process purges them periodically, off the request path; a purge still running skips the next.
 */
export function startRunCachePurge(
  sql: Sql,
  opts: { intervalMs: number; logger: Logger; deleteBatch?: (batch: number) => Promise<number> },
): () => void {
  const deleteBatch = opts.deleteBatch ?? ((batch: number) => deleteExpiredRunCache(sql, batch));
  let running = false;
  const timer = setInterval(() => {
    if (running) return;
    running = true;
    purgeExpiredRunCache(deleteBatch)
      .catch((err: unknown) => opts.logger.warn({ err }, 'run cache purge failed'))
      .finally(() => {
        running = false;
      });
  }, opts.intervalMs);
  timer.unref();
  return () => clearInterval(timer);
}
