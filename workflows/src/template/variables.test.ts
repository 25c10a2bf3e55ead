import { describe, expect, it } from 'vitest';
import { parseTemplate } from './parse.ts';
import { renderTemplate } from './render.ts';
import type { VariableSpec } from './variables.ts';
import { applyDefaults, checkVariables, inferVariables } from './variables.ts';

function infer(...sources: string[]): VariableSpec[] {
  return inferVariables(sources.map((source) => parseTemplate(source)));
}

describe('inferVariables', () => {
  it('returns top-level names in order of first appearance, once each', () => {
    expect(infer('{{b}} {{a}} {{b}} {{c.d}} {{a.x}}')).toEqual([
      { name: 'b', required: true },
      { name: 'a', required: true },
      { name: 'c', required: true },
    ]);
  });

  it('merges several templates (chat messages) in order', () => {
    expect(infer('You are {{persona}}.', 'Question: {{question}} ({{persona}})', '{{tone|neutral}}')).toEqual(
      [
        { name: 'persona', required: true },
        { name: 'question', required: true },
        { name: 'tone', required: false, default: 'neutral' },
      ],
    );
  });

  it('returns [] for no templates or no variables', () => {
    expect(inferVariables([])).toEqual([]);
    expect(infer('plain {{{{text}}')).toEqual([]);
  });

  it('makes a name optional when it has a default anywhere; the first default wins', () => {
    expect(infer('{{x}} {{x|one}} {{x|two}}')).toEqual([{ name: 'x', required: false, default: 'one' }]);
    expect(infer('{{x|}}')).toEqual([{ name: 'x', required: false, default: '' }]);
  });

  it('does not turn a default on a dotted path into a spec default', () => {
    expect(infer('{{user.name|anon}}')).toEqual([{ name: 'user', required: false }]);
    expect(infer('{{user.name|anon}} {{user.email}}')).toEqual([{ name: 'user', required: true }]);
  });

  it('treats names used only as #if conditions as optional', () => {
    expect(infer('{{#if verbose}}Be verbose.{{else}}Be brief.{{/if}}')).toEqual([
      { name: 'verbose', required: false },
    ]);
    expect(infer('{{#if a.b}}x{{/if}}')).toEqual([{ name: 'a', required: false }]);
  });

  it('does not require a name used only inside the then-branch of an #if on the same name', () => {
    expect(infer('{{#if context}}Context: {{context}}{{/if}}')).toEqual([
      { name: 'context', required: false },
    ]);
    expect(infer('{{#if user.admin}}{{user.name}}{{/if}}')).toEqual([{ name: 'user', required: false }]);
    expect(infer('{{#if docs}}{{#each docs}}- {{this}}{{/each}}{{/if}}')).toEqual([
      { name: 'docs', required: false },
    ]);
    // ...but the else-branch and other names are not guarded
    expect(infer('{{#if a}}{{b}}{{else}}{{a}}{{/if}}')).toEqual([
      { name: 'a', required: true },
      { name: 'b', required: true },
    ]);
    // ...and a use outside the guard makes it required again
    expect(infer('{{#if a}}{{a}}{{/if}} and {{a}}')).toEqual([{ name: 'a', required: true }]);
  });

  it('requires #each lists and excludes this / @index', () => {
    expect(infer('{{#each items}}{{@index}} {{this}} {{this.name}} {{suffix|!}}{{/each}}')).toEqual([
      { name: 'items', required: true },
      { name: 'suffix', required: false, default: '!' },
    ]);
  });

  it('records the first appearance inside nested blocks in source order', () => {
    expect(infer('{{#if a}}{{#each b}}{{c}}{{/each}}{{else}}{{d}}{{/if}}{{e}}')).toEqual([
      { name: 'a', required: false },
      { name: 'b', required: true },
      { name: 'c', required: true },
      { name: 'd', required: true },
      { name: 'e', required: true },
    ]);
  });
});

describe('checkVariables', () => {
  const spec: VariableSpec[] = [
    { name: 'question', required: true },
    { name: 'persona', required: true, default: 'a helpful assistant' },
    { name: 'verbose', required: false },
    { name: 'context', required: true, description: 'retrieved docs' },
  ];

  it('reports required names that are absent and not defaulted', () => {
    expect(checkVariables(spec, {})).toEqual({ missing: ['question', 'context'], unknown: [] });
    expect(checkVariables(spec, { question: 'q', context: '' })).toEqual({ missing: [], unknown: [] });
  });

  it('counts undefined as absent but null, "", 0 and false as present', () => {
    expect(checkVariables(spec, { question: undefined, context: null })).toEqual({
      missing: ['question'],
      unknown: [],
    });
    expect(checkVariables(spec, { question: 0, context: false })).toEqual({ missing: [], unknown: [] });
  });

  it('reports provided names that are not in the spec', () => {
    expect(
      checkVariables(spec, { question: 'q', context: 'c', extra: 1, other: null, gone: undefined }),
    ).toEqual({
      missing: [],
      unknown: ['extra', 'other'],
    });
  });

  it('ignores inherited properties', () => {
    const s: VariableSpec[] = [{ name: 'constructor', required: true }];
    expect(checkVariables(s, {})).toEqual({ missing: ['constructor'], unknown: [] });
  });

  it('works with an inferred spec', () => {
    const inferred = infer('{{a}} {{#if b}}{{b}}{{/if}} {{c|x}}');
    expect(checkVariables(inferred, { b: 1, z: 2 })).toEqual({ missing: ['a'], unknown: ['z'] });
  });
});

describe('applyDefaults', () => {
  const spec: VariableSpec[] = [
    { name: 'tone', required: false, default: 'neutral' },
    { name: 'lang', required: false, default: 'en' },
    { name: 'question', required: true },
  ];

  it('fills undefined and null values, keeps everything else, does not mutate the input', () => {
    const provided = { lang: null, question: 'q', extra: 0 };
    const result = applyDefaults(spec, provided);
    expect(result).toEqual({ tone: 'neutral', lang: 'en', question: 'q', extra: 0 });
    expect(provided).toEqual({ lang: null, question: 'q', extra: 0 });
    expect(applyDefaults(spec, { tone: '', lang: 'fr' })).toEqual({ tone: '', lang: 'fr' });
  });

  it('treats "__proto__" as a plain key', () => {
    const result = applyDefaults([{ name: '__proto__', required: false, default: 'x' }], {});
    expect(Object.getPrototypeOf(result)).toBe(Object.prototype);
    expect(Object.hasOwn(result, '__proto__')).toBe(true);
    expect(renderTemplate(parseTemplate('{{__proto__}}'), result)).toBe('x');
  });

  it('makes {{x}} render the default declared by {{x|…}} elsewhere', () => {
    const parsed = [parseTemplate('{{x|fallback}}'), parseTemplate('[{{x}}]')];
    const vars = applyDefaults(inferVariables(parsed), {});
    expect(parsed.map((p) => renderTemplate(p, vars))).toEqual(['fallback', '[fallback]']);
  });
});
