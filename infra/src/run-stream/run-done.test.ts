import { describe, expect, it } from 'vitest';
import type { Sql } from '../db/client.ts';
import { RUN_DONE_CHANNEL } from './channel.ts';
import { endedRunOf, runDoneHubFor, runIdOf } from './run-done.ts';

/** What the trigger (migration 012) sends: json_build_object's text, with its " : " separators. */
const payload = (id: string, over: Record<string, unknown> = {}) =>
  JSON.stringify({
    id,
    status: 'succeeded',
    output: 'Echo: hi',
    model: 'mock-1',
    errorCode: null,
    errorMessage: null,
    promptTokens: 5,
    completionTokens: 3,
    cost: 0.000011,
    attempts: 1,
    createdAt: '2026-11-29T19:30:53.123456+00:00',
    startedAt: '2026-11-29T19:30:53.140001+00:00',
    finishedAt: '2026-11-29T19:30:53.161+00:00',
    ...over,
  }).replaceAll('":', '" : ');

/** A pool whose LISTEN is in memory: `notify` delivers a payload, `relisten` re-runs onlisten. */
function fakeSql() {
  let onNotify: ((payload: string) => void) | undefined;
  let onListen: (() => void) | undefined;
  const sql = {
    listen: async (channel: string, fn: (payload: string) => void, onlisten?: () => void) => {
      expect(channel).toBe(RUN_DONE_CHANNEL);
      onNotify = fn;
      onListen = onlisten;
      onlisten?.();
      return { state: {}, unlisten: async () => {} };
    },
  } as unknown as Sql;
  return { sql, notify: (p: string) => onNotify?.(p), relisten: () => onListen?.() };
}

describe('run-done payloads', () => {
  it('reads the run id of either form without parsing the rest', () => {
    expect(runIdOf('run_abc')).toBe('run_abc');
    expect(runIdOf(payload('run_abc'))).toBe('run_abc');
    expect(runIdOf('{"nope": 1}')).toBe('');
  });

  it('turns a carried row into the ended run, dates and numbers included', () => {
    expect(endedRunOf(payload('run_abc'))).toEqual({
      status: 'succeeded',
      output: 'Echo: hi',
      model: 'mock-1',
      errorCode: null,
      errorMessage: null,
      promptTokens: 5,
      completionTokens: 3,
      cost: 0.000011,
      attempts: 1,
      createdAt: new Date('2026-11-29T19:30:53.123Z'),
      startedAt: new Date('2026-11-29T19:30:53.140Z'),
      finishedAt: new Date('2026-11-29T19:30:53.161Z'),
    });
    expect(
      endedRunOf(payload('run_abc', { status: 'canceled', output: null, startedAt: null })),
    ).toMatchObject({
      status: 'canceled',
      output: null,
      startedAt: null,
    });
  });

  it('an id alone, or anything unexpected, means "read the row"', () => {
    expect(endedRunOf('run_abc')).toBeUndefined();
    expect(endedRunOf(payload('run_abc', { status: 'running' }))).toBeUndefined();
    expect(endedRunOf('{"id" : "run_abc", ')).toBeUndefined();
  });
});

describe('runDoneHubFor', () => {
  it('fires the watches of the run named, with what the NOTIFY carried, and no others', async () => {
    const { sql, notify } = fakeSql();
    const hub = runDoneHubFor(sql);
    await hub.ready();
    const mine = hub.watch('run_1');
    const other = hub.watch('run_2');
    const next = mine.next();
    notify(payload('run_1'));
    expect(await next).toMatchObject({ status: 'succeeded', output: 'Echo: hi' });
    notify('run_1'); // an id alone: fired, read the row
    expect(await mine.next()).toBeUndefined();
    let otherFired = false;
    void other.next().then(() => {
      otherFired = true;
    });
    await new Promise((r) => setTimeout(r, 10));
    expect(otherFired).toBe(false);
  });

  it('keeps a firing that comes while nobody waits, and stops after release', async () => {
    const { sql, notify } = fakeSql();
    const hub = runDoneHubFor(sql);
    await hub.ready();
    const w = hub.watch('run_1');
    notify(payload('run_1', { output: 'early' }));
    expect(await w.next()).toMatchObject({ output: 'early' });
    w.release();
    let fired = false;
    void w.next().then(() => {
      fired = true;
    });
    notify(payload('run_1'));
    await new Promise((r) => setTimeout(r, 10));
    expect(fired).toBe(false);
  });

  it('fires every watch when it listens again: NOTIFYs may have been missed meanwhile', async () => {
    const { sql, relisten } = fakeSql();
    const hub = runDoneHubFor(sql);
    await hub.ready();
    const a = hub.watch('run_a');
    const b = hub.watch('run_b');
    relisten();
    expect(await Promise.all([a.next(), b.next()])).toEqual([undefined, undefined]);
  });

  it('is unreliable for a while once a watch reports a missed NOTIFY', async () => {
    const { sql } = fakeSql();
    const hub = runDoneHubFor(sql);
    const w = hub.watch('run_1');
    expect(w.isReliable).toBe(true);
    w.missed();
    expect(hub.watch('run_2').isReliable).toBe(false);
  });
});
