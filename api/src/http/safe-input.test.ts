import { describe, expect, it } from 'vitest';
import { findTooDeep, MAX_JSON_DEPTH, unstorableReason, unstorableStrings } from './safe-input.ts';

/** `depth` arrays nested in one another, parsed as a body would be. */
const nested = (depth: number): unknown => JSON.parse(`${'['.repeat(depth)}${']'.repeat(depth)}`);

describe('findTooDeep', () => {
  it('counts the body as level 1 and allows MAX_JSON_DEPTH levels', () => {
    expect(findTooDeep({})).toBeUndefined();
    expect(findTooDeep('x')).toBeUndefined();
    expect(findTooDeep(nested(MAX_JSON_DEPTH))).toBeUndefined();
    expect(findTooDeep(nested(MAX_JSON_DEPTH + 1))).toHaveLength(MAX_JSON_DEPTH);
  });

  it('names the path to the first level too deep', () => {
    expect(findTooDeep({ a: [1, { b: {} }] }, 3)).toEqual(['a', 1, 'b']);
  });

  it('walks 200,000 levels without recursion', () => {
    expect(findTooDeep(nested(200_000))).toHaveLength(MAX_JSON_DEPTH);
  });
});

describe('unstorableReason', () => {
  it.each([
    ['plain', undefined],
    ['emoji 😀 (a surrogate pair)', undefined],
    ['', undefined],
    ['a\u0000b', 'must not contain NUL characters (U+0000)'],
    ['\ud800', 'must not contain unpaired UTF-16 surrogates (invalid Unicode)'],
    ['x\udfffy', 'must not contain unpaired UTF-16 surrogates (invalid Unicode)'],
    ['\ud83d\ud83d\ude00', 'must not contain unpaired UTF-16 surrogates (invalid Unicode)'],
  ])('%j → %s', (value, reason) => {
    expect(unstorableReason(value)).toBe(reason);
  });
});

describe('unstorableStrings', () => {
  it('finds nothing in storable input', () => {
    expect(unstorableStrings({ a: ['x', 1, null, true, { b: '😀' }] })).toEqual([]);
    expect(unstorableStrings(undefined)).toEqual([]);
  });

  it('names each offending value by its path, in document order', () => {
    const details = unstorableStrings({
      name: 'a\u0000',
      variables: { ok: 'x', bad: '\ud800' },
      metadata: { a: { b: [1, '\u0000'] } },
    });
    expect(details.map((d) => d.field)).toEqual(['name', 'variables.bad', 'metadata.a.b.1']);
  });

  it('checks object keys too, spelling the bad character out in the path', () => {
    const details = unstorableStrings({ metadata: { 'k\u0000': { 'j\udc00': 1 } } });
    expect(details).toEqual([
      { field: 'metadata.k\\u0000', message: 'Object keys must not contain NUL characters (U+0000)' },
      {
        field: 'metadata.k\\u0000.j\\udc00',
        message: 'Object keys must not contain unpaired UTF-16 surrogates (invalid Unicode)',
      },
    ]);
  });

  it('names a bare string body (body)', () => {
    expect(unstorableStrings('\u0000')).toEqual([
      { field: '(body)', message: 'must not contain NUL characters (U+0000)' },
    ]);
  });

  it('lists at most 20', () => {
    expect(unstorableStrings(Array.from({ length: 100 }, () => '\u0000'))).toHaveLength(20);
  });
});
