// the schemas use .openapi(): zod is extended by the OpenAPI module, as in the app
import '../http/openapi.ts';
import { describe, expect, it } from 'vitest';
import { chainBodySchema } from './chains.schemas.ts';
import { checkChainGraph, dependencyOrder, findCycles, withInputContract } from './validate-chain.ts';

const s = (id: string, dependsOn: string[] = [], variables: Record<string, unknown> = {}) => ({
  id,
  prompt: 'p',
  dependsOn,
  variables,
});
const body = (steps: ReturnType<typeof s>[], extra: Record<string, unknown> = {}) =>
  withInputContract(chainBodySchema.parse({ name: 'c', steps, ...extra }));

describe('chain graph', () => {
  it('names each cycle by its steps', () => {
    expect(findCycles([s('a', ['b']), s('b', ['c']), s('c', ['a']), s('d', ['d'])])).toEqual([
      ['a', 'b', 'c', 'a'],
      ['d', 'd'],
    ]);
    expect(findCycles([s('a'), s('b', ['a']), s('c', ['a', 'b'])])).toEqual([]);
  });

  it('orders steps after their dependencies, keeping the given order otherwise', () => {
    const order = dependencyOrder([s('c', ['a', 'b']), s('b', ['a']), s('a'), s('z')]);
    expect(order.map((x) => x.id)).toEqual(['a', 'b', 'c', 'z']);
  });

  it('allows references to transitive dependencies only', () => {
    const ok = body([s('a'), s('b', ['a']), s('c', ['b'], { x: '{{steps.a.output}}' })]);
    expect(checkChainGraph(ok)).toEqual([]);
    const sibling = body([s('a'), s('b'), s('c', ['b'], { x: '{{steps.a.output}} {{steps.c.output}}' })]);
    expect(checkChainGraph(sibling).map((d) => d.message)).toEqual([
      "'{{steps.a.output}}': step 'a' is not a dependency of step 'c' (add it to dependsOn)",
      "'{{steps.c.output}}': step 'c' is not a dependency of step 'c' (add it to dependsOn)",
    ]);
  });

  it('checks the output: a known step, and a template over known steps and inputs', () => {
    const bad = body([s('a')], { input: [], output: { template: '{{steps.zz.output}} {{input.q}}' } });
    expect(checkChainGraph(bad).map((d) => d.field)).toEqual(['output.template', 'output.template']);
  });

  it('without an input contract, requires every {{input.x}} referenced; a declared one is kept as sent', () => {
    const inferred = body([s('a', [], { x: '{{input.topic}}', y: ['{{input.tone}}'] }), s('b', ['a'])], {
      output: { template: '{{steps.b.output}} {{input.topic}} {{input.sign}}' },
    });
    expect(inferred.input).toEqual([
      { name: 'topic', required: true },
      { name: 'tone', required: true },
      { name: 'sign', required: true },
    ]);
    expect(checkChainGraph(inferred)).toEqual([]);
    const declared = body([s('a', [], { x: '{{input.topic}}' })], { input: [{ name: 'other' }] });
    expect(declared.input).toEqual([{ name: 'other', required: true }]);
    expect(checkChainGraph(declared).map((d) => d.message)).toEqual([
      "'{{input.topic}}': the input declares no 'topic'",
    ]);
  });

  it('in a cyclic chain reports the cycle, not a declared dependency as missing', () => {
    const cyclic = body([
      s('a', ['b'], { x: '{{steps.b.output}}' }),
      s('b', ['a'], { x: '{{steps.a.output}}' }),
    ]);
    expect(checkChainGraph(cyclic).map((d) => d.message)).toEqual(['Cycle: a → b → a']);
  });
});
