import { describe, expect, it } from 'vitest';
import { DeltaSequencer } from './subscriber.ts';

const delta = (offset: number, text: string) => ({ run: 'run_1', offset, delta: text });
const end = (length: number) => ({ run: 'run_1', end: true as const, length });

describe('DeltaSequencer', () => {
  it('releases deltas in output order, holding back what arrives early', () => {
    const s = new DeltaSequencer();
    s.accept(delta(3, 'lo '));
    expect(s.take()).toEqual([]);
    s.accept(delta(0, 'Hel'));
    s.accept(delta(6, 'world'));
    expect(s.take()).toEqual(['Hel', 'lo ', 'world']);
    expect(s.take()).toEqual([]);
  });

  it('writes every character once when a re-run (after a worker crash) groups the text differently', () => {
    const s = new DeltaSequencer();
    s.accept(delta(0, 'Echo: '));
    s.accept(delta(6, 'one '));
    expect(s.take()).toEqual(['Echo: ', 'one ']);
    // the re-run streams the same output from the start, in bigger pieces
    s.accept(delta(0, 'Echo: '));
    s.accept(delta(6, 'one two three'));
    s.accept(end(19));
    expect(s.take()).toEqual(['two three']);
    expect(s.isComplete).toBe(true);
  });

  it('is complete only once the end marker and all the text before it have arrived', async () => {
    const s = new DeltaSequencer();
    s.accept(delta(0, 'ab'));
    s.accept(end(4));
    expect(s.isComplete).toBe(false);
    expect(await s.whenComplete(20)).toBe(false);
    const waiting = s.whenComplete(1_000);
    s.accept(delta(2, 'cd'));
    expect(await waiting).toBe(true);
    expect(s.take()).toEqual(['ab', 'cd']);
  });

  it('is complete at once for an empty stream', async () => {
    const s = new DeltaSequencer();
    s.accept(end(0));
    expect(await s.whenComplete(0)).toBe(true);
  });
});
