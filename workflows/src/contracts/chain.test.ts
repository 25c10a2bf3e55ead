import { describe, expect, it } from 'vitest';
import { jsonReadsOf, referenceTokens, resolveValue, StepOutputError } from './chain.ts';

const ctx = (outputs: Record<string, string | null>, input: Record<string, unknown> = {}) => ({
  input,
  outputs: new Map(Object.entries(outputs)),
});

describe('chain references', () => {
  it('parses input, output and json references; anything else in {{ }} is not one', () => {
    const tokens = referenceTokens(
      'a {{input.x}} {{ steps.s1.output }} {{steps.s-2.json.a.0.b}} {{steps.s.json}} {{name}} {{steps.s.output.x}}',
    );
    expect(tokens.map((t) => t.ref)).toEqual([
      { kind: 'input', name: 'x' },
      { kind: 'output', step: 's1' },
      { kind: 'json', step: 's-2', path: ['a', '0', 'b'] },
      { kind: 'json', step: 's', path: [] },
      undefined,
      undefined,
    ]);
  });

  it('a value that is one reference takes the value as is; text gets text (JSON as JSON)', () => {
    const c = ctx({ a: '{"items":[1,2],"n":{"k":"v"}}', b: 'plain' }, { topic: 'owls' });
    expect(resolveValue('{{steps.a.json.items}}', c)).toEqual([1, 2]);
    expect(resolveValue('  {{steps.a.json.n}} ', c)).toEqual({ k: 'v' });
    expect(resolveValue('n={{steps.a.json.n}} b={{steps.b.output}} t={{input.topic}}', c)).toBe(
      'n={"k":"v"} b=plain t=owls',
    );
    expect(resolveValue({ list: ['{{input.topic}}', 3], flag: true }, c)).toEqual({
      list: ['owls', 3],
      flag: true,
    });
    // `$&` in an output is inserted literally, not as a replacement pattern
    expect(resolveValue('x {{steps.b.output}} y', ctx({ b: 'cost $& more' }))).toBe('x cost $& more y');
  });

  it('a failed step (null output) reads as empty text; its JSON, a non-JSON output or a missing path throw', () => {
    const c = ctx({ failed: null, text: 'not json', obj: '{"a":{"b":1}}' });
    expect(resolveValue('[{{steps.failed.output}}]', c)).toBe('[]');
    expect(() => resolveValue('{{steps.failed.json.a}}', c)).toThrow(StepOutputError);
    expect(() => resolveValue('{{steps.text.json.a}}', c)).toThrow(/not JSON/);
    expect(() => resolveValue('{{steps.obj.json.a.c}}', c)).toThrow(/no value at 'a.c'/);
    expect(() => resolveValue('{{steps.obj.json.a.b.c}}', c)).toThrow(StepOutputError);
    // own properties only: nothing from Object.prototype
    expect(() => resolveValue('{{steps.obj.json.constructor}}', c)).toThrow(StepOutputError);
  });

  it('names the steps whose output is read as JSON', () => {
    expect([
      ...jsonReadsOf([{ x: '{{steps.a.json.k}}', y: ['{{steps.b.output}} {{steps.c.json}}'] }]),
    ]).toEqual(['a', 'c']);
  });
});
