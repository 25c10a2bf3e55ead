/**
 * Templates and values built to make one render as expensive as a budget allows: each case pushes
 * one limit (or all of them) to the edge or just past it. Shared by budget.test.ts (every case ends
 * as expected, none hangs) and bench/render.bench.ts (prints the worst-case time).
 *
 * Every case fits in a request the api accepts (template and values under 1 MiB of JSON): that is
 * the attacker's means; the budget decides what it can cost.
 */
import { DEFAULT_RENDER_BUDGET, type RenderBudget, type TemplateBudgetReason } from './budget.ts';

export interface AdversarialRender {
  name: string;
  source: string;
  values: Record<string, unknown>;
  /** 'completes' when the case stays within the budget, otherwise the limit it must hit. */
  outcome: 'completes' | TemplateBudgetReason;
}

const range = (n: number): number[] => Array.from({ length: n }, (_, i) => i);

/** `{{#each a}}` nested `depth` times around `body`. */
function nestedEach(depth: number, body: string): string {
  return `${'{{#each a}}'.repeat(depth)}${body}${'{{/each}}'.repeat(depth)}`;
}

/** Largest n with n + n² ≤ max: a list two nested loops can walk within the iteration limit. */
function squareListSize(max: number): number {
  let n = Math.floor(Math.sqrt(max));
  while (n > 0 && n + n * n > max) n--;
  return n;
}

export function adversarialRenders(budget: RenderBudget = DEFAULT_RENDER_BUDGET): AdversarialRender[] {
  const { maxOutputChars, maxIterations, maxSteps, maxValueDepth } = budget;
  const n = squareListSize(maxIterations);
  // A loop body of `width` tags that render nothing, iterated so that the steps land just under /
  // just over the limit (each tag is 2 steps: the node and its one path segment).
  const width = 1_000;
  const missingTags = '{{m}}'.repeat(width);
  const loopsUnder = Math.floor(maxSteps / (2 * width + 1)) - 1;
  // Deep value for long dotted paths: a.a.a… `pathLength` levels down.
  const pathLength = 500;
  let deepPath: unknown = 'end';
  for (let i = 1; i < pathLength; i++) deepPath = { a: deepPath };
  let tooDeep: unknown = 0;
  for (let i = 0; i < 100_000; i++) tooDeep = [tooDeep];
  let justDeepEnough: unknown = 0;
  for (let i = 1; i < maxValueDepth; i++) justDeepEnough = [justDeepEnough];
  // Distinct small objects, serialised one by one: the most expensive kind of step. `{{this}}` on
  // `{i}` costs 13 steps (the tag, 10 for the serialisation, 2 values visited).
  const smallObjects = range(Math.min(maxIterations, Math.floor((maxSteps * 0.95) / 13))).map((i) => ({ i }));
  // Many tiny values in one array: a serialisation visit per item.
  const zeros = range(Math.floor(maxSteps * 0.9)).map(() => 0);
  // Values that are not plain data take the replacer path (5 steps a value): a Date first, then
  // numbers. Not something a JSON request body can carry, but the engine's bound holds for them too.
  const withDate = (count: number): unknown[] => [new Date(0), ...range(count).map(() => 0)];
  const replacerUnder = Math.floor((maxSteps * 0.9) / 5);
  // Distinct objects whose JSON adds up to just under the output limit.
  const chunk = 'x'.repeat(1_000);
  const docs = range(Math.floor((maxOutputChars * 0.9) / (chunk.length + 10))).map(() => ({ t: chunk }));
  const long = 'y'.repeat(Math.floor(maxOutputChars / 100));

  return [
    {
      name: 'issue: 4 nested #each over 40 items (~270-byte request)',
      source: nestedEach(4, 'x'),
      values: { a: range(40) },
      outcome: 'iterations',
    },
    {
      name: `#each nested ${32} deep over 2 items (2^32 bodies)`,
      source: nestedEach(32, '{{this}}'),
      values: { a: [0, 1] },
      outcome: 'iterations',
    },
    {
      name: '#each over a 500,000-item list',
      source: '{{#each a}}{{this}}{{/each}}',
      values: { a: range(500_000).map(() => 0) },
      outcome: 'iterations',
    },
    {
      name: `2 nested #each over ${n} items, empty body (all iterations)`,
      source: nestedEach(2, ''),
      values: { a: range(n) },
      outcome: 'completes',
    },
    {
      name: `2 nested #each over ${n} items, {{@index}}{{this}} (all iterations)`,
      source: nestedEach(2, '{{@index}}{{this}}'),
      values: { a: range(n) },
      outcome: 'completes',
    },
    {
      name: `loop of ${width} tags rendering nothing, just under the step limit`,
      source: `{{#each a}}${missingTags}{{/each}}`,
      values: { a: range(loopsUnder) },
      outcome: 'completes',
    },
    {
      name: `loop of ${width} tags rendering nothing, past the step limit`,
      source: `{{#each a}}${missingTags}{{/each}}`,
      values: { a: range(loopsUnder + 3) },
      outcome: 'steps',
    },
    {
      name: `{{a.a.…}} ${pathLength} segments deep in a loop`,
      source: `{{#each l}}{{${range(pathLength)
        .map(() => 'a')
        .join('.')}}}{{/each}}`,
      values: { a: deepPath, l: range(1_000) },
      outcome: 'steps',
    },
    {
      name: `{{this}} on ${smallObjects.length} distinct small objects`,
      source: '{{#each a}}{{this}}{{/each}}',
      values: { a: smallObjects },
      outcome: 'completes',
    },
    {
      name: `one array of ${zeros.length} numbers serialised`,
      source: '{{z}}',
      values: { z: zeros },
      outcome: 'completes',
    },
    {
      name: 'one array of numbers serialised, past the step limit',
      source: '{{z}}',
      values: { z: range(maxSteps + 1).map(() => 0) },
      outcome: 'steps',
    },
    {
      name: `a Date and ${replacerUnder} numbers serialised (replacer path), under the step limit`,
      source: '{{v}}',
      values: { v: withDate(replacerUnder) },
      outcome: 'completes',
    },
    {
      name: 'a Date and numbers serialised (replacer path), past the step limit',
      source: '{{v}}',
      values: { v: withDate(Math.floor(maxSteps / 5) + 1) },
      outcome: 'steps',
    },
    {
      name: `${docs.length} distinct 1 KB objects serialised, just under the output limit`,
      source: '{{#each a}}{{this}}{{/each}}',
      values: { a: docs },
      outcome: 'completes',
    },
    {
      name: 'one 10 KB object inserted in a 1,000-item loop (serialised once, output limit)',
      source: '{{#each l}}{{o}}{{/each}}',
      values: { o: { t: chunk.repeat(10) }, l: range(1_000) },
      outcome: 'output_size',
    },
    {
      name: 'long string value repeated past the output limit',
      source: '{{#each l}}{{s}}{{/each}}',
      values: { s: long, l: range(1_000) },
      outcome: 'output_size',
    },
    {
      name: 'long default text repeated past the output limit',
      source: `{{#each l}}{{missing|${chunk}}}{{/each}}`,
      values: { l: range(maxIterations) },
      outcome: 'output_size',
    },
    {
      name: `value nested ${maxValueDepth} deep (at the limit)`,
      source: '{{v}}',
      values: { v: justDeepEnough },
      outcome: 'completes',
    },
    {
      name: 'value nested 100,000 deep',
      source: '{{v}}',
      values: { v: tooDeep },
      outcome: 'value_depth',
    },
    {
      // Spends about half the iterations on empty loop bodies, and the steps in three thirds:
      // tags that render nothing, small objects serialised one by one, 1 KB objects serialised
      // (which also fill most of the output).
      name: 'all at once: iterations, steps and output near their limits',
      source: `${nestedEach(2, '')}{{#each b}}${missingTags}{{/each}}{{#each c}}{{this}}{{/each}}{{#each d}}{{this}}{{/each}}`,
      values: {
        a: range(squareListSize(Math.floor(maxIterations / 2))),
        b: range(Math.floor(maxSteps / 3 / (2 * width + 1))),
        c: smallObjects.slice(0, Math.floor(maxSteps / 3 / 14)),
        d: docs.slice(0, Math.min(Math.floor(maxSteps / 3 / 14), Math.floor(docs.length * 0.9))),
      },
      outcome: 'completes',
    },
  ];
}
