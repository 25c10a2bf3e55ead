import { applyKeyUsage, type KeyUsageDelta, type Sql } from '@promptmill/infra/db';
import type { Logger } from '@promptmill/infra/logger';

/**
 * Per-key usage_count, last_used_at, last_limited_at and limited_until, batched in memory and written with one
 * UPDATE per flush (every USAGE_FLUSH_INTERVAL_MS and at shutdown) instead of one write per request.
 * So listings are eventually consistent: they lag by up to one flush interval per api process.
 */
export interface UsageRecorder {
  recordUse(keyId: string, at: Date): void;
  /** a refusal at `at` that holds until `until` (the refusal's retry time) */
  recordLimited(keyId: string, at: Date, until: Date): void;
  flush(): Promise<void>;
  /** stops the timer and flushes what is pending */
  stop(): Promise<void>;
}

export function createUsageRecorder(sql: Sql, opts: { intervalMs: number; logger: Logger }): UsageRecorder {
  let pending = new Map<string, KeyUsageDelta>();
  let flushing: Promise<void> = Promise.resolve();

  const entry = (keyId: string): KeyUsageDelta => {
    let d = pending.get(keyId);
    if (!d) {
      d = { keyId, count: 0, lastUsedAt: null, lastLimitedAt: null, limitedUntil: null };
      pending.set(keyId, d);
    }
    return d;
  };
  const later = (a: Date | null, b: Date) => (a && a > b ? a : b);

  const flushOnce = async () => {
    if (pending.size === 0) return;
    const batch = [...pending.values()];
    pending = new Map();
    try {
      await applyKeyUsage(sql, batch);
    } catch (err) {
      // keep the counts for the next flush rather than lose them
      for (const d of batch) {
        const e = entry(d.keyId);
        e.count += d.count;
        if (d.lastUsedAt) e.lastUsedAt = later(e.lastUsedAt, d.lastUsedAt);
        if (d.lastLimitedAt) e.lastLimitedAt = later(e.lastLimitedAt, d.lastLimitedAt);
        if (d.limitedUntil) e.limitedUntil = later(e.limitedUntil, d.limitedUntil);
      }
      opts.logger.warn({ err, keys: batch.length }, 'key usage flush failed; will retry');
    }
  };
  const flush = () => {
    flushing = flushing.then(flushOnce);
    return flushing;
  };

  const timer = setInterval(() => void flush(), opts.intervalMs);
  timer.unref();

  return {
    recordUse(keyId, at) {
      const d = entry(keyId);
      d.count += 1;
      d.lastUsedAt = later(d.lastUsedAt, at);
    },
    recordLimited(keyId, at, until) {
      const d = entry(keyId);
      d.lastLimitedAt = later(d.lastLimitedAt, at);
      d.limitedUntil = later(d.limitedUntil, until);
    },
    flush,
    async stop() {
      clearInterval(timer);
      await flush();
    },
  };
}
