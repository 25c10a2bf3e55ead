import type { Sql } from '@promptmill/infra/db';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { createUsageRecorder } from './usage-recorder.ts';

/** A stand-in for the pool that records each statement's values (the batch UPDATE has five arrays). */
function fakeSql(fail: () => boolean) {
  const batches: unknown[][] = [];
  const sql = ((_strings: TemplateStringsArray, ...values: unknown[]) => {
    if (fail()) return Promise.reject(new Error('db down'));
    batches.push(values);
    return Promise.resolve([]);
  }) as unknown as Sql;
  return { sql, batches };
}

const logger = pino({ level: 'silent' });
const t1 = new Date('2026-11-23T10:00:00Z');
const t2 = new Date('2026-11-23T10:00:05Z');
const t3 = new Date('2026-11-23T10:01:00Z');

describe('usage recorder', () => {
  it('folds many requests into one UPDATE per flush', async () => {
    const { sql, batches } = fakeSql(() => false);
    const usage = createUsageRecorder(sql, { intervalMs: 60_000, logger });
    usage.recordUse('key_a', t1);
    usage.recordUse('key_a', t2);
    usage.recordUse('key_b', t1);
    usage.recordLimited('key_b', t2, t3);
    await usage.flush();
    expect(batches).toHaveLength(1);
    expect(batches[0]).toEqual([
      ['key_a', 'key_b'],
      [2, 1],
      [t2.toISOString(), t1.toISOString()],
      [null, t2.toISOString()],
      [null, t3.toISOString()],
    ]);
    await usage.flush();
    expect(batches).toHaveLength(1); // nothing pending: no statement
    await usage.stop();
  });

  it('keeps the counts when a flush fails and writes them with the next one', async () => {
    let down = true;
    const { sql, batches } = fakeSql(() => down);
    const usage = createUsageRecorder(sql, { intervalMs: 60_000, logger });
    usage.recordUse('key_a', t1);
    await usage.flush();
    expect(batches).toHaveLength(0);
    usage.recordUse('key_a', t2);
    down = false;
    await usage.stop(); // stop flushes what is pending
    expect(batches).toEqual([[['key_a'], [2], [t2.toISOString()], [null], [null]]]);
  });
});
