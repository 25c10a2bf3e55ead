import { describe, expect, it } from 'vitest';
import { etagFor, ifNoneMatchHits } from './etag.ts';

describe('etagFor', () => {
  it('is a strong, quoted tag that depends only on the body', () => {
    const tag = etagFor('{"data":1}');
    expect(tag).toMatch(/^"[A-Za-z0-9_-]{32}"$/);
    expect(etagFor('{"data":1}')).toBe(tag);
    expect(etagFor('{"data":2}')).not.toBe(tag);
  });
});

describe('ifNoneMatchHits', () => {
  const tag = etagFor('x');
  it.each([
    [undefined, false],
    ['', false],
    ['"other"', false],
    [tag, true],
    [`W/${tag}`, true],
    [`"a", ${tag} , "b"`, true],
    ['*', true],
  ])('%s → %s', (header, expected) => {
    expect(ifNoneMatchHits(header, tag)).toBe(expected);
  });
});
