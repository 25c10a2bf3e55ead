import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { DEFAULT_RENDER_BUDGET, type RenderBudget, TemplateBudgetError } from './budget.ts';
import type { ParsedTemplate, TemplateNode, VariablePath } from './parse.ts';
import { escapeTemplateText, parseTemplate, TemplateSyntaxError } from './parse.ts';
import { renderTemplate } from './render.ts';
import { applyDefaults, checkVariables, inferVariables } from './variables.ts';

const NUM_RUNS = 300;

/** Every kind of value fast-check can produce, including the exotic ones. */
const anyValue = fc.anything({
  maxDepth: 3,
  withBigInt: true,
  withBoxedValues: true,
  withDate: true,
  withMap: true,
  withSet: true,
  withNullPrototype: true,
  withObjectString: true,
  withSparseArray: true,
  withTypedArray: true,
});

const TEMPLATES = [
  'Hello {{name}}!',
  '{{ user.name | anonymous }} <{{user.email}}> {{user.address.city.zip}}',
  '{{#if flag}}on{{else}}off{{/if}}',
  '{{#if user.admin}}{{#if flag}}A{{/if}}{{else}}{{name|x}}{{/if}}',
  '{{#each items}}{{@index}}:{{this}} {{this.name|?}} {{this.a.b}}{{#if this}}T{{/if}};{{/each}}',
  '{{#each items}}{{#each this}}[{{@index}}{{this}}]{{/each}}{{#each user}}{{this.name}}{{/each}}{{/each}}',
  '{{{{literal}} {{{name}}} }} {{flag}}{{items}}{{user}}',
];
const PARSED = TEMPLATES.map((source) => parseTemplate(source));

const variablesArb = fc.oneof(
  fc.record(
    { name: anyValue, user: anyValue, flag: anyValue, items: anyValue },
    { requiredKeys: [] },
  ) as fc.Arbitrary<Record<string, unknown>>,
  fc.dictionary(fc.constantFrom('name', 'user', 'flag', 'items', '__proto__', 'constructor', 'x'), anyValue),
  fc.record({ items: fc.array(anyValue, { maxLength: 5 }), user: fc.dictionary(fc.string(), anyValue) }),
);

/** Strings rich in template syntax, plus fully arbitrary strings (incl. lone surrogates). */
const templateLikeString = fc.oneof(
  fc.string({
    unit: fc.constantFrom(
      '{{',
      '}}',
      '{',
      '}',
      '#if ',
      '#each ',
      '/if',
      '/each',
      'else',
      'this',
      '@index',
      '.',
      '|',
      ' ',
      '\n',
      'a',
      'b',
      '#',
      '/',
    ),
    maxLength: 40,
  }),
  fc.string({ unit: 'binary', maxLength: 60 }),
  // whole tags, so that many inputs parse and blocks nest (or mismatch)
  fc.string({
    unit: fc.constantFrom(
      '{{a}}',
      '{{ b.c | d }}',
      '{{#if a}}',
      '{{#each b}}',
      '{{/if}}',
      '{{/each}}',
      '{{else}}',
      '{{this}}',
      '{{this.x}}',
      '{{@index}}',
      '{{{{',
      '{{{a}}}',
      '}}',
      'x',
      '\n',
      '{',
    ),
    maxLength: 20,
  }),
);

describe('property: renderTemplate never throws', () => {
  it('for arbitrary variable values on a set of templates', () => {
    fc.assert(
      fc.property(variablesArb, (vars) => {
        for (const parsed of PARSED) {
          expect(typeof renderTemplate(parsed, vars)).toBe('string');
        }
      }),
      { numRuns: NUM_RUNS },
    );
  });

  it('for arbitrary values passed through applyDefaults / checkVariables', () => {
    const spec = inferVariables(PARSED);
    fc.assert(
      fc.property(variablesArb, (vars) => {
        const check = checkVariables(spec, vars);
        expect(Array.isArray(check.missing) && Array.isArray(check.unknown)).toBe(true);
        const withDefaults = applyDefaults(spec, vars);
        for (const parsed of PARSED) expect(typeof renderTemplate(parsed, withDefaults)).toBe('string');
      }),
      { numRuns: NUM_RUNS },
    );
  });
});

describe('property: values are data', () => {
  const insert = parseTemplate('A{{x}}B');
  const withDefault = parseTemplate('A{{ x | default }}B');
  const nested = parseTemplate('{{#each xs}}<{{this}}|{{this.s}}>{{/each}}');
  const braceHeavy = fc.string({
    unit: fc.constantFrom('{{', '}}', '{', '}', 'x', '#if x', '/if', ' '),
    maxLength: 30,
  });
  const anyString = fc.oneof(fc.string({ unit: 'binary' }), braceHeavy);

  it('A{{x}}B renders as "A" + x + "B" for any string x', () => {
    fc.assert(
      fc.property(anyString, (x) => {
        expect(renderTemplate(insert, { x })).toBe(`A${x}B`);
        expect(renderTemplate(withDefault, { x })).toBe(`A${x}B`);
      }),
      { numRuns: NUM_RUNS },
    );
  });

  it('#each items and item fields come out literally', () => {
    fc.assert(
      fc.property(fc.array(anyString, { maxLength: 5 }), (strings) => {
        const xs = strings.map((s) => ({ s }));
        const expected = xs.map((o) => `<${JSON.stringify(o)}|${o.s}>`).join('');
        expect(renderTemplate(nested, { xs })).toBe(expected);
      }),
      { numRuns: NUM_RUNS },
    );
  });
});

describe('property: values are data wherever they are inserted', () => {
  const templateSyntax = fc.string({
    unit: fc.constantFrom(
      '{{',
      '}}',
      '{{{{',
      '{{#if a}}',
      '{{/if}}',
      '{{#each a}}',
      '{{else}}',
      '{{this}}',
      'x',
      ' ',
    ),
    maxLength: 20,
  });
  const paths = parseTemplate('{{user.name}}|{{#if flag}}{{x}}{{else}}{{y}}{{/if}}|{{ z | {d} }}');

  it('through dotted paths, #if/#else branches and inline defaults, a value is copied verbatim', () => {
    fc.assert(
      fc.property(
        templateSyntax,
        templateSyntax,
        fc.boolean(),
        fc.option(templateSyntax),
        (name, x, flag, z) => {
          const out = renderTemplate(paths, { user: { name }, flag, x, y: x, z });
          expect(out).toBe(`${name}|${x}|${z ?? '{d}'}`);
        },
      ),
      { numRuns: NUM_RUNS },
    );
  });

  it('defaults from a variables contract are data too', () => {
    const parsed = parseTemplate('<{{a}}>');
    fc.assert(
      fc.property(templateSyntax, (d) => {
        const spec = [{ name: 'a', required: false, default: d }];
        expect(renderTemplate(parsed, applyDefaults(spec, {}))).toBe(`<${d}>`);
      }),
      { numRuns: NUM_RUNS },
    );
  });
});

describe('property: parseTemplate on arbitrary input', () => {
  it('either succeeds or throws a TemplateSyntaxError with a valid location', () => {
    fc.assert(
      fc.property(templateLikeString, anyValue, (source, value) => {
        let parsed: ParsedTemplate;
        try {
          parsed = parseTemplate(source);
        } catch (error) {
          expect(error).toBeInstanceOf(TemplateSyntaxError);
          const { line, column } = error as TemplateSyntaxError;
          const lines = source.split('\n');
          expect(line).toBeGreaterThanOrEqual(1);
          expect(line).toBeLessThanOrEqual(lines.length);
          expect(column).toBeGreaterThanOrEqual(1);
          expect(column).toBeLessThanOrEqual((lines[line - 1] ?? '').length);
          // the location points at a tag opening
          expect((lines[line - 1] ?? '').slice(column - 1, column + 1)).toBe('{{');
          return;
        }
        // whatever parses must render with any values
        expect(typeof renderTemplate(parsed, { a: value, b: value, this: value })).toBe('string');
        expect(Array.isArray(inferVariables([parsed]))).toBe(true);
      }),
      { numRuns: 2000 },
    );
  });

  it('text without tags renders verbatim once escaped', () => {
    fc.assert(
      fc.property(fc.oneof(fc.string({ unit: 'binary' }), templateLikeString), (text) => {
        expect(renderTemplate(parseTemplate(escapeTemplateText(text)), {})).toBe(text);
      }),
      { numRuns: NUM_RUNS },
    );
  });
});

// ---------------------------------------------------------------------------------------------
// Round trip: print an arbitrary AST back to source, parse it, get the same AST.

const ident = fc.stringMatching(/^[A-Za-z_][A-Za-z0-9_]{0,6}$/).filter((s) => s !== 'this' && s !== 'else');
const rootPath: fc.Arbitrary<VariablePath> = fc
  .array(ident, { minLength: 1, maxLength: 3 })
  .map((segments): VariablePath => ({ scope: 'root', name: segments.join('.'), segments }));
const eachPath: fc.Arbitrary<VariablePath> = fc.oneof(
  rootPath,
  fc.constant<VariablePath>({ scope: 'index', name: '@index', segments: [] }),
  fc
    .array(ident, { maxLength: 2 })
    .map((segments): VariablePath => ({ scope: 'this', name: ['this', ...segments].join('.'), segments })),
);
const defaultText = fc
  .option(
    fc
      .string({ unit: fc.constantFrom('a', 'b', ' ', '|', '-', '{', '}', '#'), maxLength: 8 })
      .map((s) => s.trim()),
    { nil: undefined },
  )
  .filter((d) => d === undefined || (!d.includes('{{') && !d.includes('}}') && !d.endsWith('}')));

function nodesArb(inEach: boolean, depth: number): fc.Arbitrary<TemplateNode[]> {
  const path = inEach ? eachPath : rootPath;
  const leaf: fc.Arbitrary<TemplateNode> = fc.oneof(
    fc
      .string({ unit: fc.constantFrom('a', ' ', '\n', '{', '}', '{{', '}}', '#', '|'), maxLength: 8 })
      .map((value): TemplateNode => ({ type: 'text', value })),
    fc.record({ ref: path, defaultValue: defaultText }).map((r): TemplateNode => ({ type: 'insert', ...r })),
  );
  if (depth === 0) return fc.array(leaf, { maxLength: 4 });
  const block: fc.Arbitrary<TemplateNode> = fc.oneof(
    fc
      .record({ ref: path, consequent: nodesArb(inEach, depth - 1), alternate: nodesArb(inEach, depth - 1) })
      .map((r): TemplateNode => ({ type: 'if', ...r })),
    fc
      .record({ ref: path, body: nodesArb(true, depth - 1) })
      .map((r): TemplateNode => ({ type: 'each', ...r })),
  );
  return fc.array(fc.oneof({ arbitrary: leaf, weight: 3 }, { arbitrary: block, weight: 1 }), {
    maxLength: 4,
  });
}

function print(nodes: readonly TemplateNode[]): string {
  let out = '';
  for (const node of nodes) {
    switch (node.type) {
      case 'text':
        out += escapeTemplateText(node.value);
        break;
      case 'insert':
        out +=
          node.defaultValue === undefined
            ? `{{${node.ref.name}}}`
            : `{{ ${node.ref.name} | ${node.defaultValue} }}`;
        break;
      case 'if':
        out += `{{#if ${node.ref.name}}}${print(node.consequent)}`;
        out += node.alternate.length > 0 ? `{{else}}${print(node.alternate)}{{/if}}` : '{{/if}}';
        break;
      case 'each':
        out += `{{#each ${node.ref.name}}}${print(node.body)}{{/each}}`;
        break;
    }
  }
  return out;
}

/** The parser merges adjacent text and drops empty text. */
function normalize(nodes: readonly TemplateNode[]): TemplateNode[] {
  const out: TemplateNode[] = [];
  for (const node of nodes) {
    if (node.type === 'text') {
      if (node.value === '') continue;
      const last = out[out.length - 1];
      if (last?.type === 'text') out[out.length - 1] = { type: 'text', value: last.value + node.value };
      else out.push({ ...node });
    } else if (node.type === 'if') {
      out.push({ ...node, consequent: normalize(node.consequent), alternate: normalize(node.alternate) });
    } else if (node.type === 'each') {
      out.push({ ...node, body: normalize(node.body) });
    } else {
      out.push(node);
    }
  }
  return out;
}

describe('property: print/parse round trip', () => {
  it('parse(print(ast)) reproduces the AST', () => {
    fc.assert(
      fc.property(nodesArb(false, 3), (ast) => {
        const expected = normalize(ast);
        expect(parseTemplate(print(expected)).nodes).toEqual(expected);
      }),
      { numRuns: 500 },
    );
  });
});

// ---------------------------------------------------------------------------------------------
// Budget: any template over any values either renders within the budget, with the same output as
// without one, or stops with a TemplateBudgetError naming a limit it really hit.

const UNLIMITED: RenderBudget = {
  maxOutputChars: Number.POSITIVE_INFINITY,
  maxIterations: Number.POSITIVE_INFINITY,
  maxSteps: Number.POSITIVE_INFINITY,
  maxValueDepth: Number.POSITIVE_INFINITY,
};

const LIMIT_OF: Record<TemplateBudgetError['reason'], keyof RenderBudget> = {
  output_size: 'maxOutputChars',
  iterations: 'maxIterations',
  steps: 'maxSteps',
  value_depth: 'maxValueDepth',
};

/** Small limits, so that every one of them is hit in some runs; a missing key keeps the default. */
const smallBudget: fc.Arbitrary<Partial<RenderBudget>> = fc.record(
  {
    maxOutputChars: fc.nat(400),
    maxIterations: fc.nat(40),
    maxSteps: fc.nat(600),
    maxValueDepth: fc.nat(4),
  },
  { requiredKeys: [] },
);

/** Values that make loops multiply and inserts grow, plus anything at all. */
const budgetValue = fc.oneof(
  anyValue,
  fc.array(fc.array(fc.integer(), { maxLength: 6 }), { maxLength: 6 }),
  fc.array(fc.oneof(fc.string({ maxLength: 30 }), fc.array(anyValue, { maxLength: 4 })), { maxLength: 8 }),
  fc.string({ maxLength: 80 }),
);

/** Binds every root variable path of the template to a value of the pool (round robin). */
function valuesFor(parsed: ParsedTemplate, pool: readonly unknown[]): Record<string, unknown> {
  const values: Record<string, unknown> = {};
  parsed.variables.forEach((ref, i) => {
    const segments = ref.name.split('.');
    let target: Record<string, unknown> = values;
    for (const segment of segments.slice(0, -1)) {
      if (!Object.hasOwn(target, segment)) target[segment] = {};
      const next = target[segment];
      if (typeof next !== 'object' || next === null) return;
      target = next as Record<string, unknown>;
    }
    const last = segments[segments.length - 1] ?? '';
    if (!Object.hasOwn(target, last)) target[last] = pool[i % pool.length];
  });
  return values;
}

describe('property: rendering stays within its budget', () => {
  it('returns within the budget with the unbudgeted output, or throws a TemplateBudgetError for a limit it hit', () => {
    fc.assert(
      fc.property(
        nodesArb(false, 3),
        fc.array(budgetValue, { minLength: 1, maxLength: 6 }),
        smallBudget,
        (ast, pool, budget) => {
          const parsed = parseTemplate(print(normalize(ast)));
          const values = valuesFor(parsed, pool);
          const limits: RenderBudget = { ...DEFAULT_RENDER_BUDGET, ...budget };
          const unbudgeted = renderTemplate(parsed, values, UNLIMITED);
          let output: string;
          try {
            output = renderTemplate(parsed, values, budget);
          } catch (error) {
            expect(error).toBeInstanceOf(TemplateBudgetError);
            const { reason, limit } = error as TemplateBudgetError;
            expect(limit).toBe(limits[LIMIT_OF[reason]]);
            if (reason === 'output_size') expect(unbudgeted.length).toBeGreaterThan(limits.maxOutputChars);
            return;
          }
          expect(output.length).toBeLessThanOrEqual(limits.maxOutputChars);
          expect(output).toBe(unbudgeted);
        },
      ),
      { numRuns: 1000 },
    );
  });

  it('with the default budget, any parsable source over any values renders or stops with a TemplateBudgetError', () => {
    fc.assert(
      fc.property(
        templateLikeString,
        fc.array(budgetValue, { minLength: 1, maxLength: 4 }),
        (source, pool) => {
          let parsed: ParsedTemplate;
          try {
            parsed = parseTemplate(source);
          } catch {
            return; // covered by the parse properties
          }
          try {
            const output = renderTemplate(parsed, { ...valuesFor(parsed, pool), a: pool[0], b: pool });
            expect(output.length).toBeLessThanOrEqual(DEFAULT_RENDER_BUDGET.maxOutputChars);
          } catch (error) {
            expect(error).toBeInstanceOf(TemplateBudgetError);
          }
        },
      ),
      { numRuns: NUM_RUNS },
    );
  });
});

describe('property: objects render as JSON.stringify renders them', () => {
  const insert = parseTemplate('{{v}}');
  // Everything but BigInt, which JSON.stringify rejects (the renderer writes it as a string).
  const jsonable = fc.anything({
    maxDepth: 4,
    withBoxedValues: true,
    withDate: true,
    withMap: true,
    withSet: true,
    withNullPrototype: true,
    withObjectString: true,
    withSparseArray: true,
    withTypedArray: true,
  });

  it('through the plain-data path and the replacer path alike', () => {
    fc.assert(
      fc.property(jsonable, (v) => {
        fc.pre(typeof v === 'object' && v !== null);
        expect(renderTemplate(insert, { v })).toBe(JSON.stringify(v) ?? '');
      }),
      { numRuns: 1000 },
    );
  });
});
