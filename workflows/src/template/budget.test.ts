import { describe, expect, it } from 'vitest';
import { adversarialRenders } from './adversarial-renders.ts';
import { DEFAULT_RENDER_BUDGET, type RenderBudget, TemplateBudgetError } from './budget.ts';
import { parseTemplate } from './parse.ts';
import { renderTemplate, renderTemplates } from './render.ts';

function render(source: string, values: Record<string, unknown>, budget?: Partial<RenderBudget>): string {
  return renderTemplate(parseTemplate(source), values, budget);
}

function budgetError(source: string, values: Record<string, unknown>, budget?: Partial<RenderBudget>) {
  try {
    render(source, values, budget);
  } catch (error) {
    if (error instanceof TemplateBudgetError) return error;
    throw error;
  }
  throw new Error(`expected a TemplateBudgetError for ${JSON.stringify(source)}`);
}

function assertThrows(fn: () => unknown): TemplateBudgetError {
  try {
    fn();
  } catch (error) {
    if (error instanceof TemplateBudgetError) return error;
    throw error;
  }
  throw new Error('expected a TemplateBudgetError');
}

const range = (n: number): number[] => Array.from({ length: n }, (_, i) => i);

/** A list that counts the items read from it (a Proxy passes Array.isArray and reads like one). */
function countingList(items: unknown[]): { list: unknown[]; reads: () => number } {
  let reads = 0;
  const list = new Proxy(items, {
    get(target, key, receiver) {
      if (typeof key === 'string' && /^\d+$/.test(key)) reads++;
      return Reflect.get(target, key, receiver);
    },
  });
  return { list, reads: () => reads };
}

describe('DEFAULT_RENDER_BUDGET', () => {
  it('is frozen and has the documented values', () => {
    expect(DEFAULT_RENDER_BUDGET).toEqual({
      maxOutputChars: 1_000_000,
      maxIterations: 10_000,
      maxSteps: 100_000,
      maxValueDepth: 64,
    });
    expect(Object.isFrozen(DEFAULT_RENDER_BUDGET)).toBe(true);
  });

  it('lets a call override some limits and keeps the defaults for the others', () => {
    expect(budgetError('{{#each a}}x{{/each}}', { a: range(3) }, { maxIterations: 2 }).limit).toBe(2);
    const error = budgetError(
      '{{#each a}}xx{{/each}}',
      { a: range(3) },
      { maxIterations: 3, maxOutputChars: 5 },
    );
    expect(error.reason).toBe('output_size');
    expect(
      budgetError('{{#each a}}{{m}}{{/each}}', { a: range(60_000) }, { maxIterations: Infinity }).limit,
    ).toBe(100_000);
    expect(render('{{#each a}}x{{/each}}', { a: range(3) }, { maxOutputChars: 3 })).toBe('xxx');
    expect(render('{{#each a}}x{{/each}}', { a: range(20_000) }, { maxIterations: Infinity }).length).toBe(
      20_000,
    );
  });

  it('rejects a limit that is not a number >= 0', () => {
    const parsed = parseTemplate('x');
    expect(() => renderTemplate(parsed, {}, { maxSteps: -1 })).toThrow(RangeError);
    expect(() => renderTemplate(parsed, {}, { maxOutputChars: Number.NaN })).toThrow(/maxOutputChars/);
    expect(() => renderTemplate(parsed, {}, { maxIterations: '5' as unknown as number })).toThrow(RangeError);
  });
});

describe('TemplateBudgetError', () => {
  it('names the limit, its value and the tag', () => {
    const error = budgetError('a{{#each xs}}{{this}}{{/each}}', { xs: range(20_000) });
    expect(error).toBeInstanceOf(Error);
    expect(error.name).toBe('TemplateBudgetError');
    expect(error.reason).toBe('iterations');
    expect(error.limit).toBe(10_000);
    expect(error.tag).toBe('{{#each xs}}');
    expect(error.message).toBe(
      'Template rendering stopped: the template exceeds the limit of 10,000 {{#each}} iterations in total (at {{#each xs}})',
    );
  });

  it('has a message for every reason', () => {
    expect(budgetError('abc', {}, { maxOutputChars: 2 }).message).toBe(
      'Template rendering stopped: the rendered text exceeds the output size limit of 2 characters',
    );
    expect(budgetError('{{a.b}}', {}, { maxSteps: 2 }).message).toBe(
      'Template rendering stopped: the template exceeds the limit of 2 render steps (text pieces, tags, path segments and serialised values) (at {{a.b}})',
    );
    expect(budgetError('{{v|x}}', { v: [[1]] }, { maxValueDepth: 1 }).message).toBe(
      'Template rendering stopped: a variable value is nested deeper than the limit of 1 levels (at {{v}})',
    );
  });
});

describe('renderTemplate: iteration limit', () => {
  it('stops the reported expansion: 4 nested #each over 40 items (2.56M bodies)', () => {
    const source = '{{#each a}}{{#each a}}{{#each a}}{{#each a}}x{{/each}}{{/each}}{{/each}}{{/each}}';
    const error = budgetError(source, { a: range(40) });
    expect(error.reason).toBe('iterations');
    expect(error.tag).toBe('{{#each a}}');
  });

  it('counts every item of every loop: nested loops multiply', () => {
    const source = '{{#each a}}{{#each a}}.{{/each}}{{/each}}';
    // 40 outer items + 40 × 40 inner items
    expect(render(source, { a: range(40) }, { maxIterations: 40 + 40 * 40 })).toHaveLength(1600);
    expect(budgetError(source, { a: range(40) }, { maxIterations: 40 + 40 * 40 - 1 }).reason).toBe(
      'iterations',
    );
  });

  it('counts a non-array value as one item and an empty or missing list as none', () => {
    expect(render('{{#each o}}{{this.k}}{{/each}}', { o: { k: 'v' } }, { maxIterations: 1 })).toBe('v');
    expect(render('{{#each e}}x{{/each}}{{#each m}}x{{/each}}', { e: [] }, { maxIterations: 0 })).toBe('');
    expect(budgetError('{{#each o}}x{{/each}}', { o: 'one' }, { maxIterations: 0 }).reason).toBe(
      'iterations',
    );
  });

  it('charges a loop for its whole list before rendering any item of it', () => {
    const { list, reads } = countingList(range(11));
    expect(budgetError('{{#each xs}}{{this}}{{/each}}', { xs: list }, { maxIterations: 10 }).reason).toBe(
      'iterations',
    );
    expect(reads()).toBe(0);
  });

  it('stops a 2^32-body expansion from a 32-deep nesting at once', () => {
    const source = `${'{{#each a}}'.repeat(32)}{{this}}${'{{/each}}'.repeat(32)}`;
    expect(budgetError(source, { a: [0, 1] }).reason).toBe('iterations');
  });
});

describe('renderTemplate: output size limit', () => {
  it('returns an output of exactly the limit and refuses one character more', () => {
    expect(render('{{#each a}}ab{{/each}}', { a: range(5) }, { maxOutputChars: 10 })).toBe('ababababab');
    const error = budgetError('{{#each a}}ab{{/each}}', { a: range(5) }, { maxOutputChars: 9 });
    expect(error.reason).toBe('output_size');
    expect(error.limit).toBe(9);
  });

  it('stops at the first piece that would pass the limit', () => {
    const { list, reads } = countingList(['abc', 'abc', 'abc', 'abc', 'abc', 'abc']);
    // 3 items fit in 10 characters, the 4th does not: nothing after it is read
    expect(budgetError('{{#each xs}}{{this}}{{/each}}', { xs: list }, { maxOutputChars: 10 }).tag).toBe(
      '{{this}}',
    );
    expect(reads()).toBe(4);
  });

  it('counts text, defaults, string values and JSON alike', () => {
    expect(budgetError('{{x|default}}', {}, { maxOutputChars: 6 }).tag).toBe('{{x}}');
    expect(budgetError('{{x}}', { x: 'x'.repeat(7) }, { maxOutputChars: 6 }).reason).toBe('output_size');
    expect(budgetError('{{o}}', { o: { a: 1 } }, { maxOutputChars: 6 }).reason).toBe('output_size');
    expect(render('{{o}}', { o: { a: 1 } }, { maxOutputChars: 7 })).toBe('{"a":1}');
  });

  it('stops serialising a large value early instead of building its JSON first', () => {
    const { list, reads } = countingList(range(1_000_000).map(() => 'item'));
    expect(budgetError('{{xs}}', { xs: list }, { maxOutputChars: 1_000 }).reason).toBe('output_size');
    expect(reads()).toBeLessThan(200);
  });

  it('stops serialising a value that is not plain data (toJSON) early too', () => {
    let calls = 0;
    const stamp = {
      toJSON() {
        calls++;
        return 'stamp';
      },
    };
    const stamps = range(100_000).map(() => stamp);
    expect(budgetError('{{xs}}', { xs: stamps }, { maxOutputChars: 1_000 }).reason).toBe('output_size');
    expect(calls).toBeLessThan(200);
  });

  it('ends the reported ~900 MB expansion of a 3 KB prompt with output_size', () => {
    const values = { a: range(40), s: 'x'.repeat(2_000) };
    const error = budgetError('{{#each a}}{{#each a}}{{#each a}}{{s}}{{/each}}{{/each}}{{/each}}', values);
    expect(error.reason).toBe('output_size');
    expect(error.limit).toBe(1_000_000);
  });
});

describe('renderTemplate: step limit', () => {
  it('counts one step per text piece and tag and one per path segment', () => {
    // "x" 1 + {{a.b}} 3 + {{#if c}} 2 + "y" 1
    const source = 'x{{a.b}}{{#if c}}y{{/if}}';
    expect(render(source, { a: { b: 'B' }, c: true }, { maxSteps: 7 })).toBe('xBy');
    expect(budgetError(source, { a: { b: 'B' }, c: true }, { maxSteps: 6 }).reason).toBe('steps');
  });

  it('charges a loop body one step a node and one a path segment, naming the tag that does not fit', () => {
    // {{#each xs}} 2, then the body: 3 nodes, and 0 + 0 + 1 path segments
    const source = '{{#each xs}}{{this}}{{@index}}{{this.x}}{{/each}}';
    expect(render(source, { xs: ['a'] }, { maxSteps: 6 })).toBe('a0');
    const error = budgetError(source, { xs: ['a'] }, { maxSteps: 4 });
    expect([error.reason, error.tag]).toEqual(['steps', '{{this.x}}']);
  });

  it('bounds a long loop body of tags that render nothing', () => {
    const source = `{{#each a}}${'{{missing}}'.repeat(1_000)}{{/each}}`;
    const error = budgetError(source, { a: range(100) });
    expect(error.reason).toBe('steps');
    expect(error.limit).toBe(100_000);
  });

  it('bounds long dotted paths into deep values', () => {
    // a: {a: {a: … 'end'}}, reached by a path of 500 segments
    let deep: unknown = 'end';
    for (let i = 0; i < 499; i++) deep = { a: deep };
    const path = range(500)
      .map(() => 'a')
      .join('.');
    expect(render(`{{${path}}}`, { a: deep })).toBe('end');
    expect(budgetError(`{{#each l}}{{${path}}}{{/each}}`, { a: deep, l: range(1_000) }).reason).toBe('steps');
  });

  it('charges serialisation 10 steps plus one per value visited, once per object and render', () => {
    // {{o}} 2 steps + 10 + 4 values ({a:[1,2]}: the object, a, 1, 2)
    expect(render('{{o}}', { o: { a: [1, 2] } }, { maxSteps: 16 })).toBe('{"a":[1,2]}');
    expect(budgetError('{{o}}', { o: { a: [1, 2] } }, { maxSteps: 15 }).reason).toBe('steps');
    // inserted again: 2 more steps for the tag, the JSON is reused
    expect(render('{{o}}{{o}}', { o: { a: [1, 2] } }, { maxSteps: 18 })).toBe('{"a":[1,2]}{"a":[1,2]}');
  });

  it('charges values that are not plain data (the slower replacer path) more per value', () => {
    const plain = range(10);
    // {{v}} 2 + 10 + 11 values
    expect(render('{{v}}', { v: plain }, { maxSteps: 23 })).toBe('[0,1,2,3,4,5,6,7,8,9]');
    const withDate = [new Date(0), ...range(9)];
    expect(budgetError('{{v}}', { v: withDate }, { maxSteps: 23 }).reason).toBe('steps');
    expect(budgetError('{{v}}', { v: withDate }, { maxSteps: 60 }).reason).toBe('steps');
    expect(render('{{v}}', { v: withDate }, { maxSteps: 100 })).toBe(
      '["1970-01-01T00:00:00.000Z",0,1,2,3,4,5,6,7,8]',
    );
  });

  it('serialises an object once per render however often it is inserted', () => {
    let calls = 0;
    const o = {
      toJSON() {
        calls++;
        return { n: calls };
      },
    };
    expect(render('{{#each l}}{{o}}{{/each}}', { o, l: range(3) })).toBe('{"n":1}{"n":1}{"n":1}');
    expect(calls).toBe(1);
  });
});

describe('renderTemplate: value depth limit', () => {
  it('serialises values up to the depth limit and refuses deeper ones', () => {
    expect(render('{{v}}', { v: [[1]] }, { maxValueDepth: 2 })).toBe('[[1]]');
    const error = budgetError('{{v}}', { v: [[1]] }, { maxValueDepth: 1 });
    expect(error.reason).toBe('value_depth');
    expect(error.limit).toBe(1);
    expect(
      budgetError('{{#each l}}{{this}}{{/each}}', { l: [{ a: { b: {} } }] }, { maxValueDepth: 2 }).tag,
    ).toBe('{{this}}');
  });

  it('refuses a value nested 100,000 deep (it used to overflow the stack and render as "")', () => {
    let deep: unknown = 0;
    for (let i = 0; i < 100_000; i++) deep = [deep];
    const error = budgetError('{{v}}', { v: deep });
    expect(error.reason).toBe('value_depth');
    expect(error.limit).toBe(64);
  });

  it('applies to values that are not plain data too', () => {
    // the Date (toJSON) at the top sends the whole value down the replacer path
    let deep: unknown = new Date(0);
    for (let i = 0; i < 100; i++) deep = { when: new Date(0), d: deep };
    expect(budgetError('{{v}}', { v: deep }).reason).toBe('value_depth');
    expect(render('{{v}}', { v: { when: new Date(0), d: [1] } })).toBe(
      '{"when":"1970-01-01T00:00:00.000Z","d":[1]}',
    );
  });

  it('does not walk values it does not serialise', () => {
    let deep: unknown = 0;
    for (let i = 0; i < 100_000; i++) deep = [deep];
    expect(render('{{#if v}}yes{{/if}}{{#each v}}{{@index}}{{/each}}{{v.x|none}}', { v: deep })).toBe(
      'yes0none',
    );
  });

  it('still renders cycles as "[Circular]" and BigInt as a string', () => {
    const cyclic: Record<string, unknown> = { n: 1n };
    cyclic.self = cyclic;
    expect(render('{{c}}', { c: cyclic })).toBe('{"n":"1","self":"[Circular]"}');
  });
});

describe('renderTemplates: one budget for all the messages of a prompt', () => {
  const parts = ['{{#each a}}s{{/each}}', 'u {{#each a}}{{this}}{{/each}}'].map((source) =>
    parseTemplate(source),
  );

  it('renders every part over the same values', () => {
    expect(renderTemplates(parts, { a: [1, 2] })).toEqual(['ss', 'u 12']);
    expect(renderTemplates([], { a: [1] })).toEqual([]);
  });

  it('shares the iteration, step and output limits between the parts', () => {
    const values = { a: range(6) };
    // each part alone is within every limit below, both together are not
    expect(renderTemplate(parts[1]!, values, { maxIterations: 6 })).toBe('u 012345');
    const iterations = assertThrows(() => renderTemplates(parts, values, { maxIterations: 11 }));
    expect([iterations.reason, iterations.limit, iterations.tag]).toEqual(['iterations', 11, '{{#each a}}']);
    expect(renderTemplates(parts, values, { maxIterations: 12 })).toEqual(['ssssss', 'u 012345']);
    // steps: 2 + 6 × 1 for the first part, 1 + 2 + 6 × 1 for the second
    expect(renderTemplates(parts, values, { maxSteps: 17 })).toEqual(['ssssss', 'u 012345']);
    expect(assertThrows(() => renderTemplates(parts, values, { maxSteps: 16 })).reason).toBe('steps');
    expect(renderTemplates(parts, values, { maxOutputChars: 14 })).toEqual(['ssssss', 'u 012345']);
    const output = assertThrows(() => renderTemplates(parts, values, { maxOutputChars: 13 }));
    expect([output.reason, output.limit, output.tag]).toEqual(['output_size', 13, '{{this}}']);
  });

  it('stops a version that repeats an expensive message (a budget per message would multiply)', () => {
    const message = parseTemplate('{{#each a}}{{#each a}}{{/each}}{{/each}}');
    const values = { a: range(70) }; // 70 + 4,900 iterations: within the default budget once
    expect(renderTemplate(message, values)).toBe('');
    const error = assertThrows(() => renderTemplates([message, message, message], values));
    expect(error.reason).toBe('iterations');
  });
});

describe('renderTemplate: adversarial templates and values', () => {
  const cases = adversarialRenders();

  it.each(cases.map((c) => [c.name, c] as const))('%s', (_name, c) => {
    const parsed = parseTemplate(c.source);
    const started = performance.now();
    let outcome: string;
    let output = '';
    try {
      output = renderTemplate(parsed, c.values);
      outcome = 'completes';
    } catch (error) {
      if (!(error instanceof TemplateBudgetError)) throw error;
      outcome = error.reason;
    }
    const ms = performance.now() - started;
    expect(outcome).toBe(c.outcome);
    expect(output.length).toBeLessThanOrEqual(DEFAULT_RENDER_BUDGET.maxOutputChars);
    // Catches hangs only (the figure is bench/render.bench.ts's job): 2 busy cores, first run.
    expect(ms).toBeLessThan(250);
  });

  it('fit in a request the api accepts (1 MiB)', () => {
    for (const c of cases) {
      expect(c.source.length, c.name).toBeLessThan(1_048_576);
      let valueChars = 0;
      try {
        valueChars = JSON.stringify(c.values).length;
      } catch {
        // nested deeper than JSON.stringify recurses: as JSON text it is 2 characters a level
        valueChars = 200_000;
      }
      expect(valueChars, c.name).toBeLessThan(1_048_576);
    }
  });
});
