import { createHash } from 'node:crypto';
import { type CachedResult, findCachedResult, type Sql, type VersionRow } from '@promptmill/infra/db';
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
