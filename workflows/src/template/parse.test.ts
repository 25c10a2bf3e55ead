import { describe, expect, it } from 'vitest';
import type { TemplateNode } from './parse.ts';
import {
  escapeTemplateText,
  LEGACY_MAX_BLOCK_DEPTH,
  MAX_BLOCK_DEPTH,
  parseTemplate,
  TemplateSyntaxError,
} from './parse.ts';
import { renderTemplate } from './render.ts';

function syntaxError(source: string): TemplateSyntaxError {
  try {
    parseTemplate(source);
  } catch (error) {
    if (error instanceof TemplateSyntaxError) return error;
    throw error;
  }
  throw new Error(`expected a TemplateSyntaxError for ${JSON.stringify(source)}`);
}

describe('parseTemplate: AST', () => {
  it('parses plain text into a single text node', () => {
    expect(parseTemplate('Hello world').nodes).toEqual([{ type: 'text', value: 'Hello world' }]);
  });

  it('parses the empty string', () => {
    expect(parseTemplate('')).toEqual({ nodes: [], variables: [] });
  });

  it('parses inserts with and without defaults, dotted paths and whitespace', () => {
    const { nodes } = parseTemplate('Hi {{ user.name }}, {{ lang | en-US }}!');
    expect(nodes).toEqual<TemplateNode[]>([
      { type: 'text', value: 'Hi ' },
      {
        type: 'insert',
        ref: { scope: 'root', name: 'user.name', segments: ['user', 'name'] },
        defaultValue: undefined,
      },
      { type: 'text', value: ', ' },
      { type: 'insert', ref: { scope: 'root', name: 'lang', segments: ['lang'] }, defaultValue: 'en-US' },
      { type: 'text', value: '!' },
    ]);
  });

  it('parses if/else and each blocks with this and @index', () => {
    const { nodes } = parseTemplate('{{#if a}}x{{else}}y{{/if}}{{#each list}}{{@index}}{{this.f}}{{/each}}');
    expect(nodes).toEqual<TemplateNode[]>([
      {
        type: 'if',
        ref: { scope: 'root', name: 'a', segments: ['a'] },
        consequent: [{ type: 'text', value: 'x' }],
        alternate: [{ type: 'text', value: 'y' }],
      },
      {
        type: 'each',
        ref: { scope: 'root', name: 'list', segments: ['list'] },
        body: [
          { type: 'insert', ref: { scope: 'index', name: '@index', segments: [] }, defaultValue: undefined },
          {
            type: 'insert',
            ref: { scope: 'this', name: 'this.f', segments: ['f'] },
            defaultValue: undefined,
          },
        ],
      },
    ]);
  });

  it('merges escapes into the surrounding text node', () => {
    expect(parseTemplate('a{{{{b}}c').nodes).toEqual([{ type: 'text', value: 'a{{b}}c' }]);
  });

  it('accepts whitespace and newlines inside every kind of tag', () => {
    const parsed = parseTemplate('{{ #if  a }}{{\n#each b\n}}{{ this }}{{ /each }}{{ else }}{{ /if }}');
    expect(renderTemplate(parsed, { a: true, b: [1, 2] })).toBe('12');
    expect(renderTemplate(parsed, { a: false })).toBe('');
  });

  it('trims the default text but keeps inner spaces and pipes', () => {
    const { variables } = parseTemplate('{{x|  a b | c  }}{{y|}}');
    expect(variables).toEqual([
      { name: 'x', hasDefault: true, defaultValue: 'a b | c', usedIn: 'insert' },
      { name: 'y', hasDefault: true, defaultValue: '', usedIn: 'insert' },
    ]);
  });

  it('lists root variable references in source order, excluding this and @index', () => {
    const { variables } = parseTemplate(
      '{{a}}{{#if b.c}}{{#each d}}{{this}}{{this.x}}{{@index}}{{e|E}}{{/each}}{{/if}}{{a}}',
    );
    expect(variables).toEqual([
      { name: 'a', hasDefault: false, usedIn: 'insert' },
      { name: 'b.c', hasDefault: false, usedIn: 'if' },
      { name: 'd', hasDefault: false, usedIn: 'each' },
      { name: 'e', hasDefault: true, defaultValue: 'E', usedIn: 'insert' },
      { name: 'a', hasDefault: false, usedIn: 'insert' },
    ]);
  });

  it('allows this/@index as block arguments inside #each', () => {
    const parsed = parseTemplate(
      '{{#each rows}}{{#each this}}{{@index}}{{/each}};{{#if this.ok}}ok{{/if}}{{/each}}',
    );
    expect(renderTemplate(parsed, { rows: [['a', 'b'], { ok: true }] })).toBe('01;0;ok');
  });

  it('produces JSON-serialisable output', () => {
    const parsed = parseTemplate('{{#if a}}{{b|x}}{{else}}{{#each c}}{{this}}{{/each}}{{/if}}');
    const roundTripped = JSON.parse(JSON.stringify(parsed));
    expect(renderTemplate(roundTripped, { c: [1, 2] })).toBe(renderTemplate(parsed, { c: [1, 2] }));
  });

  it('treats a lone }} and single braces as text', () => {
    expect(parseTemplate('a }} b {c} {').nodes).toEqual([{ type: 'text', value: 'a }} b {c} {' }]);
  });
});

describe('parseTemplate: syntax errors carry the line and column of the offending tag', () => {
  const cases: [kind: string, source: string, line: number, column: number, message: RegExp][] = [
    ['unclosed tag at end of input', 'Hello\n  world {{name', 2, 9, /Unclosed tag "\{\{name"/],
    [
      'unclosed tag followed by another tag',
      'line one\nx {{name\n{{other}}',
      2,
      3,
      /Unclosed tag "\{\{name"/,
    ],
    ['unknown block', 'a\nb\n   {{#foo bar}}{{/foo}}', 3, 4, /Unknown block "\{\{#foo\}\}"/],
    ['unknown closing tag', '{{#if a}}\n{{/iff}}', 2, 1, /Unknown closing tag/],
    ['unmatched {{/if}}', 'ok\n\n  {{/if}}', 3, 3, /Unmatched \{\{\/if\}\}/],
    ['unmatched {{/each}}', '{{x}}\n{{/each}}', 2, 1, /Unmatched \{\{\/each\}\}/],
    [
      '{{/each}} closing an if',
      '{{#each xs}}\n  {{#if a}}\n  {{/each}}',
      3,
      3,
      /\{\{\/each\}\} cannot close \{\{#if a\}\} \(opened at line 2, column 3\)/,
    ],
    [
      '{{/if}} closing an each',
      '{{#if a}}{{#each b}}\n{{/if}}',
      2,
      1,
      /\{\{\/if\}\} cannot close \{\{#each b\}\}/,
    ],
    ['unclosed #if', 'start\n{{#if ready}}\nbody', 2, 1, /Unclosed \{\{#if ready\}\}: missing \{\{\/if\}\}/],
    ['two unclosed blocks: innermost reported', '{{#if a}}\n {{#each b}}', 2, 2, /Unclosed \{\{#each b\}\}/],
    ['unclosed #each at end', '{{#each items}}\n{{#if a}}{{/if}}', 1, 1, /Unclosed \{\{#each items\}\}/],
    [
      'outer block unclosed after inner closes',
      'x\n{{#if a}}{{#if b}}{{/if}}',
      2,
      1,
      /Unclosed \{\{#if a\}\}/,
    ],
    ['{{else}} outside if', 'a\nb {{else}}', 2, 3, /\{\{else\}\} outside of an \{\{#if\}\} block/],
    [
      '{{else}} directly inside each',
      '{{#each a}}\n{{else}}{{/each}}',
      2,
      1,
      /not allowed directly inside \{\{#each a\}\}/,
    ],
    ['duplicate {{else}}', '{{#if a}}1{{else}}2\n{{else}}3{{/if}}', 2, 1, /Duplicate \{\{else\}\}/],
    ['empty tag', 'x\n\ty{{}}', 2, 3, /Empty tag/],
    ['whitespace-only tag', '{{   }}', 1, 1, /Empty tag/],
    ['invalid variable name (space)', 'Hi\n{{first name}}', 2, 1, /Invalid variable name "first name"/],
    ['invalid variable name (digit first)', '{{1abc}}', 1, 1, /Invalid variable name "1abc"/],
    ['invalid variable name (trailing dot)', '{{a.}}', 1, 1, /Invalid variable name "a\."/],
    ['invalid variable name (dash)', '  {{a-b}}', 1, 3, /Invalid variable name "a-b"/],
    ['invalid name in #if', '\n{{#if a b}}{{/if}}', 2, 1, /Invalid variable name "a b"/],
    ['default not allowed in #each', '{{#each a|b}}{{/each}}', 1, 1, /Invalid variable name "a\|b"/],
    ['missing name in #if', 'x {{#if}}{{/if}}', 1, 3, /\{\{#if\}\} requires a variable name/],
    ['missing name in #each', '{{#each   }}', 1, 1, /\{\{#each\}\} requires a variable name/],
    ['missing name before default', '{{|default}}', 1, 1, /Missing variable name/],
    ['four braces inside a tag', 'a\n{{{x {{{{y}}', 2, 2, /Unclosed tag "\{\{x"/],
    ['this outside each', 'x\n{{this.name}}', 2, 1, /can only be used inside \{\{#each\}\}/],
    ['@index outside each', '{{#if a}}{{@index}}{{/if}}', 1, 10, /\{\{@index\}\} can only be used inside/],
    ['@index with a path', '{{#each a}}{{@index.x}}{{/each}}', 1, 12, /Invalid variable name "@index\.x"/],
  ];

  it.each(cases)('%s', (_kind, source, line, column, message) => {
    const error = syntaxError(source);
    expect(error).toBeInstanceOf(Error);
    expect(error.name).toBe('TemplateSyntaxError');
    expect({ line: error.line, column: error.column }).toEqual({ line, column });
    expect(error.message).toMatch(message);
    expect(error.message).toContain(`(line ${line}, column ${column})`);
    expect(error.message).toBe(`${error.reason} (line ${line}, column ${column})`);
  });

  it('counts columns after CRLF line breaks from the start of the line', () => {
    const error = syntaxError('a\r\nbc {{/if}}');
    expect([error.line, error.column]).toEqual([2, 4]);
  });

  it('limits block nesting depth', () => {
    const ok = `${'{{#if a}}'.repeat(MAX_BLOCK_DEPTH)}x${'{{/if}}'.repeat(MAX_BLOCK_DEPTH)}`;
    expect(renderTemplate(parseTemplate(ok), { a: 1 })).toBe('x');
    const error = syntaxError(`${'{{#if a}}\n'.repeat(MAX_BLOCK_DEPTH + 1)}`);
    expect(error.line).toBe(MAX_BLOCK_DEPTH + 1);
    expect(error.message).toMatch(/nested more than/);
  });

  it('rejects blocks nested more than 32 deep, with the location of the 33rd opening tag', () => {
    expect(MAX_BLOCK_DEPTH).toBe(32);
    const source = `${'{{#each a}}'.repeat(20)}\n  ${'{{#if a}}'.repeat(13)}x${'{{/if}}'.repeat(13)}${'{{/each}}'.repeat(20)}`;
    const error = syntaxError(source);
    expect(error.reason).toBe('Blocks nested more than 32 levels deep');
    expect([error.line, error.column]).toEqual([2, 3 + 12 * '{{#if a}}'.length]);
  });

  it('parses templates stored under the old limit of 100 with { maxBlockDepth: LEGACY_MAX_BLOCK_DEPTH }', () => {
    const nested = (depth: number): string => `${'{{#if a}}'.repeat(depth)}x${'{{/if}}'.repeat(depth)}`;
    expect(LEGACY_MAX_BLOCK_DEPTH).toBe(100);
    expect(syntaxError(nested(100)).reason).toBe('Blocks nested more than 32 levels deep');
    const parsed = parseTemplate(nested(100), { maxBlockDepth: LEGACY_MAX_BLOCK_DEPTH });
    expect(renderTemplate(parsed, { a: 1 })).toBe('x');
    expect(() => parseTemplate(nested(101), { maxBlockDepth: LEGACY_MAX_BLOCK_DEPTH })).toThrow(
      'Blocks nested more than 100 levels deep (line 1, column 901)',
    );
    expect(() => parseTemplate(nested(3), { maxBlockDepth: 2 })).toThrow(TemplateSyntaxError);
  });
});

describe('escapeTemplateText', () => {
  it('doubles every {{ so the text renders verbatim', () => {
    for (const text of ['{{x}}', '{{{', '{{{{', '{{{{{', 'a{b}}c', '{{#if a}}', '{', '']) {
      const escaped = escapeTemplateText(text);
      expect(renderTemplate(parseTemplate(escaped), {})).toBe(text);
    }
    expect(escapeTemplateText('a {{b}}')).toBe('a {{{{b}}');
  });
});
