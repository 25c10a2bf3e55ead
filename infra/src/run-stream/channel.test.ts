import { describe, expect, it } from 'vitest';
import { STREAM_NOTIFY_MAX_BYTES, splitForNotify } from './channel.ts';

const payloadBytes = (runId: string, offset: number, delta: string) =>
  Buffer.byteLength(JSON.stringify({ run: runId, offset, delta }));

describe('splitForNotify', () => {
  const runId = 'run_01JABCDEFGHJKMNPQRSTVWXYZ0';

  it('keeps a normal delta whole', () => {
    expect(splitForNotify(runId, 'Hello ')).toEqual(['Hello ']);
  });

  it('splits long deltas so every NOTIFY payload stays under the limit, losing nothing', () => {
    // multi-byte characters, surrogate pairs and characters JSON escapes to six bytes
    const text = `${'é'.repeat(3000)}${'😀'.repeat(1500)}${'\u0001'.repeat(2000)}${'a'.repeat(9000)}`;
    const parts = splitForNotify(runId, text);
    expect(parts.length).toBeGreaterThan(3);
    expect(parts.join('')).toBe(text);
    let offset = 1_000_000_000;
    for (const part of parts) {
      expect(payloadBytes(runId, offset, part)).toBeLessThanOrEqual(STREAM_NOTIFY_MAX_BYTES);
      // no half of a surrogate pair at either end
      expect(part).not.toMatch(/^[\uDC00-\uDFFF]|[\uD800-\uDBFF]$/);
      offset += part.length;
    }
  });
});
