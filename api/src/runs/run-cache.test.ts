import type { Sql } from '@promptmill/infra/db';
import { pino } from 'pino';
import { describe, expect, it, vi } from 'vitest';
import { purgeExpiredRunCache, runCacheKey, startRunCachePurge } from './run-cache.ts';

describe('runCacheKey', () => {
  const v1 = { id: 'ver_1', params: { temperature: 0, maxTokens: 100 } };

  it('is stable whatever the key order of variables and params', () => {
    const a = runCacheKey(v1, { a: 1, b: { c: 2, d: 3 } });
    expect(
      runCacheKey({ id: 'ver_1', params: { maxTokens: 100, temperature: 0 } }, { b: { d: 3, c: 2 }, a: 1 }),
    ).toBe(a);
    expect(a).toMatch(/^[0-9a-f]{64}$/);
  });

  it('differs when the version, a variable or a param differs', () => {
    const a = runCacheKey(v1, { a: 1 });
    expect(runCacheKey({ ...v1, id: 'ver_2' }, { a: 1 })).not.toBe(a);
    expect(runCacheKey(v1, { a: 2 })).not.toBe(a);
    expect(runCacheKey(v1, { a: '1' })).not.toBe(a);
    expect(runCacheKey(v1, {})).not.toBe(a);
    expect(runCacheKey({ ...v1, params: { temperature: 1, maxTokens: 100 } }, { a: 1 })).not.toBe(a);
  });
});

describe('run cache purge', () => {
  const batches = (sizes: number[]) => {
    const calls: number[] = [];
    const deleteBatch = (batch: number) => {
      calls.push(batch);
      return Promise.resolve(sizes[calls.length - 1] ?? 0);
    };
    return { calls, deleteBatch };
  };

  it('deletes batch by batch until a batch comes back short', async () => {
    const { calls, deleteBatch } = batches([1000, 1000, 500, 1000]);
    expect(await purgeExpiredRunCache(deleteBatch, { batch: 1000, maxBatches: 20 })).toBe(2500);
    expect(calls).toEqual([1000, 1000, 1000]);
  });

  it('stops after maxBatches: a large backlog drains over several purges', async () => {
    const { calls, deleteBatch } = batches(Array(50).fill(10));
    expect(await purgeExpiredRunCache(deleteBatch, { batch: 10, maxBatches: 3 })).toBe(30);
    expect(calls).toHaveLength(3);
  });

  it('runs on its interval, never two purges at once, and stops', async () => {
    vi.useFakeTimers();
    try {
      let release: () => void = () => {};
      let calls = 0;
      const deleteBatch = () => {
        calls++;
        return new Promise<number>((resolve) => {
          release = () => resolve(0);
        });
      };
      const stop = startRunCachePurge({} as Sql, {
        intervalMs: 1000,
        logger: pino({ level: 'silent' }),
        deleteBatch,
      });
      await vi.advanceTimersByTimeAsync(999);
      expect(calls).toBe(0);
      await vi.advanceTimersByTimeAsync(1);
      expect(calls).toBe(1);
      await vi.advanceTimersByTimeAsync(3000); // still running: skipped
      expect(calls).toBe(1);
      release();
      await vi.advanceTimersByTimeAsync(1000);
      expect(calls).toBe(2);
      release();
      stop();
      await vi.advanceTimersByTimeAsync(5000);
      expect(calls).toBe(2);
    } finally {
      vi.useRealTimers();
    }
  });
});
