// the schemas use .openapi(): zod is extended by the OpenAPI module, as in the app
import '../http/openapi.ts';
import { describe, expect, it } from 'vitest';
import { chainBodySchema } from './chains.schemas.ts';
import { checkChainGraph, dependencyOrder, findCycles } from './validate-chain.ts';

const s = (id: string, dependsOn: string[] = [], variables: Record<string, unknown> = {}) => ({
  id,
  prompt: 'p',
  dependsOn,
  variables,
});
const body = (steps: ReturnType<typeof s>[], extra: Record<string, unknown> = {}) =>
  chainBodySchema.parse({ name: 'c', steps, ...extra });

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
    const bad = body([s('a')], { output: { template: '{{steps.zz.output}} {{input.q}}' } });
    expect(checkChainGraph(bad).map((d) => d.field)).toEqual(['output.template', 'output.template']);
  });
});
