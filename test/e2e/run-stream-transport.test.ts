// The run stream transport end to end over the stack's real Postgres: a worker-side publisher's
// deltas reach an api-side subscriber in order and exactly once, long deltas are split below the
// NOTIFY limit and reassembled, and a cancel request reaches the worker-side watcher.
import { afterAll, describe, expect, inject, it } from 'vitest';
import { createSql } from '../../infra/src/db/index.ts';
import {
  createStreamPublisher,
  DeltaSequencer,
  type RunStreamMessage,
  requestStreamCancel,
  runStreamHubFor,
  streamCancellationsFor,
} from '../../infra/src/run-stream/index.ts';

// separate pools: the publisher and the listener are different processes in production
const apiSql = createSql(inject('databaseUrl'), { max: 2 });
const workerSql = createSql(inject('databaseUrl'), { max: 2 });
afterAll(async () => {
  await Promise.all([apiSql.end(), workerSql.end()]);
});

const runId = (s: string) => `run_transport_${s}_${Date.now()}`;

describe('run stream transport (Postgres LISTEN/NOTIFY)', () => {
  it('delivers every delta, in order, then the end marker; other runs are not delivered', async () => {
    const hub = runStreamHubFor(apiSql);
    await hub.ready();
    const mine = runId('a');
    const other = runId('b');
    const received: RunStreamMessage[] = [];
    const sequencer = new DeltaSequencer();
    const unsubscribe = hub.subscribe(mine, (m) => {
      received.push(m);
      sequencer.accept(m);
    });

    const long = `${'é'.repeat(5000)}${'x'.repeat(9000)}`; // over the NOTIFY payload limit: split
    const publisher = createStreamPublisher(workerSql, mine);
    const noise = createStreamPublisher(workerSql, other);
    for (const d of ['Hello', ', ', 'world', long, '!']) {
      publisher.push(d);
      noise.push('noise');
    }
    await Promise.all([publisher.end(), noise.end()]);

    expect(await sequencer.whenComplete(5_000)).toBe(true);
    const text = sequencer.take().join('');
    expect(text).toBe(`Hello, world${long}!`);
    expect(received.every((m) => m.run === mine)).toBe(true);
    expect(received.filter((m) => 'end' in m)).toEqual([{ run: mine, end: true, length: text.length }]);
    expect(received.length).toBeGreaterThan(2); // the long delta came in several messages
    unsubscribe();
  });

  it("a cancel request aborts the worker's watcher of that run only", async () => {
    const cancellations = streamCancellationsFor(workerSql);
    await cancellations.ready();
    const target = runId('c');
    const bystander = runId('d');
    const watched = cancellations.watch(target);
    const untouched = cancellations.watch(bystander);
    const aborted = new Promise<void>((resolve) => watched.signal.addEventListener('abort', () => resolve()));

    await requestStreamCancel(apiSql, target);
    await aborted;
    expect(watched.signal.aborted).toBe(true);
    expect(untouched.signal.aborted).toBe(false);
    watched.release();
    untouched.release();
  });
});
