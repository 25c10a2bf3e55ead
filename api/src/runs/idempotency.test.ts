import { describe, expect, it } from 'vitest';
import { AppError } from '../http/app-error.ts';
import { canonicalJson, preferredWaitSeconds, readIdempotencyKey, requestHash } from './idempotency.ts';

describe('canonicalJson / requestHash', () => {
  it('sorts object keys at every level and keeps array order', () => {
    expect(canonicalJson({ b: 1, a: { d: [3, { z: 1, y: 2 }], c: null } })).toBe(
      '{"a":{"c":null,"d":[3,{"y":2,"z":1}]},"b":1}',
    );
    expect(canonicalJson([2, 1])).not.toBe(canonicalJson([1, 2]));
    expect(canonicalJson('x')).toBe('"x"');
  });

  it('drops undefined members, like JSON.stringify', () => {
    expect(canonicalJson({ a: undefined, b: 1 })).toBe('{"b":1}');
  });

  it('the same body in another key order hashes equally; another body or route does not', () => {
    const a = requestHash('POST /v1/runs', { prompt: 'p', variables: { x: 1, y: 2 } });
    expect(requestHash('POST /v1/runs', { variables: { y: 2, x: 1 }, prompt: 'p' })).toBe(a);
    expect(requestHash('POST /v1/runs', { prompt: 'p', variables: { x: 1, y: 3 } })).not.toBe(a);
    expect(requestHash('POST /v1/workflows/wf_1/runs', { prompt: 'p', variables: { x: 1, y: 2 } })).not.toBe(
      a,
    );
    expect(a).toMatch(/^[0-9a-f]{64}$/);
  });

  it('a string and a number are different requests', () => {
    expect(requestHash('r', { x: '1' })).not.toBe(requestHash('r', { x: 1 }));
  });
});

describe('readIdempotencyKey', () => {
  it('accepts 1–255 characters and absent', () => {
    expect(readIdempotencyKey(undefined)).toBeUndefined();
    expect(readIdempotencyKey('a')).toBe('a');
    expect(readIdempotencyKey('k'.repeat(255))).toBe('k'.repeat(255));
  });

  it('refuses empty and longer keys with a VALIDATION_ERROR naming the header', () => {
    for (const bad of ['', 'k'.repeat(256)]) {
      let caught: unknown;
      try {
        readIdempotencyKey(bad);
      } catch (err) {
        caught = err;
      }
      expect(caught).toBeInstanceOf(AppError);
      expect(caught).toMatchObject({
        code: 'VALIDATION_ERROR',
        details: [{ field: 'Idempotency-Key', message: 'Idempotency-Key must be 1 to 255 characters' }],
      });
    }
  });
});

describe('preferredWaitSeconds (Prefer: wait=N)', () => {
  it.each([
    ['wait=10', 10],
    ['WAIT = 5', 5],
    ['respond-async, wait=3', 3],
    ['wait="7"', 7],
    ['handling=lenient; wait=2', 2],
    ['wait=60', 60],
    ['wait=61', 60],
    ['wait=999999', 60],
  ])('%s → %s', (header, seconds) => {
    expect(preferredWaitSeconds(header)).toBe(seconds);
  });

  it.each([undefined, '', 'wait=0', 'wait=-1', 'wait=1.5', 'wait=abc', 'return=minimal', 'wait'])(
    '%s is ignored',
    (header) => {
      expect(preferredWaitSeconds(header)).toBeUndefined();
    },
  );
});
