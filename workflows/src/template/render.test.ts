import { describe, expect, it } from 'vitest';
import { parseTemplate } from './parse.ts';
import { renderTemplate } from './render.ts';

function render(source: string, variables: Record<string, unknown> = {}): string {
  return renderTemplate(parseTemplate(source), variables);
}

describe('renderTemplate: inserts', () => {
  it('inserts variables', () => {
    expect(render('Hello {{name}}!', { name: 'Ada' })).toBe('Hello Ada!');
    expect(render('{{a}}{{b}}{{a}}', { a: 'x', b: 'y' })).toBe('xyx');
  });

  it('allows whitespace inside the braces', () => {
    expect(render('{{ name }}|{{\tname\n}}', { name: 'Ada' })).toBe('Ada|Ada');
  });

  it('resolves dotted paths through nested objects', () => {
    const vars = { user: { name: 'Ada', address: { city: 'London' } } };
    expect(render('{{user.name}} from {{ user.address.city }}', vars)).toBe('Ada from London');
    expect(render('[{{user.missing}}][{{user.name.first}}][{{nope.deep.path}}]', vars)).toBe('[][][]');
  });

  it('resolves paths into arrays only through own properties', () => {
    expect(render('{{list.length}}', { list: [1, 2, 3] })).toBe('3');
    expect(render('[{{s.length}}]', { s: 'abc' })).toBe('[]');
  });

  it('renders values by type', () => {
    const vars = {
      s: 'text',
      n: 42.5,
      z: 0,
      neg: -1,
      t: true,
      f: false,
      big: 12n,
      arr: [1, 'a', null],
      obj: { a: 1, b: [true] },
      nul: null,
      undef: undefined,
      fn: () => 'nope',
      sym: Symbol('s'),
      date: new Date(0),
    };
    expect(
      render(
        '{{s}}|{{n}}|{{z}}|{{neg}}|{{t}}|{{f}}|{{big}}|{{arr}}|{{obj}}|{{nul}}|{{undef}}|{{fn}}|{{sym}}|{{date}}',
        vars,
      ),
    ).toBe('text|42.5|0|-1|true|false|12|[1,"a",null]|{"a":1,"b":[true]}|||||"1970-01-01T00:00:00.000Z"');
  });

  it('uses the default for undefined and null only', () => {
    const tpl = '[{{v|fallback value}}]';
    expect(render(tpl, {})).toBe('[fallback value]');
    expect(render(tpl, { v: undefined })).toBe('[fallback value]');
    expect(render(tpl, { v: null })).toBe('[fallback value]');
    expect(render(tpl, { v: '' })).toBe('[]');
    expect(render(tpl, { v: 0 })).toBe('[0]');
    expect(render(tpl, { v: false })).toBe('[false]');
    expect(render(tpl, { v: 'set' })).toBe('[set]');
  });

  it('supports defaults on dotted paths and an empty default', () => {
    expect(render('{{user.name|anonymous}}', { user: {} })).toBe('anonymous');
    expect(render('{{user.name|anonymous}}', {})).toBe('anonymous');
    expect(render('{{user.name | anonymous }}', { user: { name: 'Ada' } })).toBe('Ada');
    expect(render('[{{x|}}]', {})).toBe('[]');
  });

  it('treats default text literally', () => {
    expect(render('{{x|{not a tag} #if y / z}}', {})).toBe('{not a tag} #if y / z');
  });

  it('does not read inherited properties', () => {
    expect(render('[{{constructor}}][{{toString}}][{{__proto__}}][{{o.hasOwnProperty}}]', { o: {} })).toBe(
      '[][][][]',
    );
    const withProtoKey = JSON.parse('{"__proto__": "own"}') as Record<string, unknown>;
    expect(render('{{__proto__}}', withProtoKey)).toBe('own');
  });

  it('never re-parses values', () => {
    expect(render('A{{x}}B', { x: '{{y}} {{#if y}}', y: 'NO' })).toBe('A{{y}} {{#if y}}B');
    expect(render('{{o}}', { o: { k: '{{y}}' }, y: 'NO' })).toBe('{"k":"{{y}}"}');
    expect(render('{{x|d}}', { x: '{{{{' })).toBe('{{{{');
  });
});

describe('renderTemplate: escaping', () => {
  it('outputs {{ for {{{{', () => {
    expect(render('{{{{')).toBe('{{');
    expect(render('{{{{name}}', { name: 'Ada' })).toBe('{{name}}');
    expect(render('a {{{{ b {{{{{{{{ c', {})).toBe('a {{ b {{{{ c');
    expect(render('{{{{{{name}}', { name: 'Ada' })).toBe('{{Ada');
  });

  it('reads three braces as a literal { followed by a tag', () => {
    expect(render('{{{name}}}', { name: 'Ada' })).toBe('{Ada}');
    expect(render('{{{ name|x }}}', {})).toBe('{x}');
    expect(render('{{{{{name}}', { name: 'Ada' })).toBe('{{{name}}');
    expect(render('{{{{{{{name}}', { name: 'Ada' })).toBe('{{{Ada');
    expect(render('{{{#if a}}a{{/if}}', { a: 1 })).toBe('{a');
  });

  it('keeps a lone }} and single braces literal', () => {
    expect(render('}} {x} }}} {{v}}}', { v: 1 })).toBe('}} {x} }}} 1}');
  });
});

describe('renderTemplate: #if', () => {
  const tpl = '{{#if v}}yes{{else}}no{{/if}}';
  it.each([
    ['absent', {}, 'no'],
    ['undefined', { v: undefined }, 'no'],
    ['null', { v: null }, 'no'],
    ['false', { v: false }, 'no'],
    ['empty string', { v: '' }, 'no'],
    ['empty array', { v: [] }, 'no'],
    ['zero', { v: 0 }, 'no'],
    ['NaN', { v: Number.NaN }, 'no'],
    ['true', { v: true }, 'yes'],
    ['non-empty string', { v: 'x' }, 'yes'],
    ['whitespace string', { v: ' ' }, 'yes'],
    ['"false" string', { v: 'false' }, 'yes'],
    ['non-zero number', { v: -3 }, 'yes'],
    ['non-empty array', { v: [0] }, 'yes'],
    ['empty object', { v: {} }, 'yes'],
  ])('%s', (_label, vars, expected) => {
    expect(render(tpl, vars)).toBe(expected);
  });

  it('works without {{else}}', () => {
    expect(render('a{{#if v}}b{{/if}}c', { v: 1 })).toBe('abc');
    expect(render('a{{#if v}}b{{/if}}c', {})).toBe('ac');
  });

  it('supports dotted conditions', () => {
    expect(render('{{#if user.admin}}admin{{else}}user{{/if}}', { user: { admin: true } })).toBe('admin');
    expect(render('{{#if user.admin}}admin{{else}}user{{/if}}', { user: 'x' })).toBe('user');
  });

  it('nests', () => {
    const tpl2 = '{{#if a}}A{{#if b}}B{{else}}b{{/if}}{{else}}{{#if b}}-B{{else}}-b{{/if}}{{/if}}';
    expect(render(tpl2, { a: 1, b: 1 })).toBe('AB');
    expect(render(tpl2, { a: 1, b: 0 })).toBe('Ab');
    expect(render(tpl2, { a: 0, b: 1 })).toBe('-B');
    expect(render(tpl2, { a: 0, b: 0 })).toBe('-b');
  });

  it('keeps the whitespace around block tags as written', () => {
    expect(render('Intro\n{{#if v}}\nline\n{{/if}}\nEnd', { v: true })).toBe('Intro\n\nline\n\nEnd');
  });
});

describe('renderTemplate: #each', () => {
  it('iterates arrays with {{this}} and {{@index}}', () => {
    expect(render('{{#each xs}}{{@index}}={{this}};{{/each}}', { xs: ['a', 'b', 'c'] })).toBe('0=a;1=b;2=c;');
  });

  it('exposes object item fields through this.field', () => {
    const vars = { docs: [{ title: 'T1', meta: { page: 3 } }, { title: 'T2' }] };
    expect(render('{{#each docs}}[{{@index}} {{this.title}} p{{this.meta.page|?}}]{{/each}}', vars)).toBe(
      '[0 T1 p3][1 T2 p?]',
    );
    expect(render('{{#each docs}}{{this}}\n{{/each}}', { docs: [{ a: 1 }, [2]] })).toBe('{"a":1}\n[2]\n');
  });

  it('renders nothing for missing, null and empty lists', () => {
    const tpl = 'a{{#each xs}}x{{/each}}b';
    expect(render(tpl, {})).toBe('ab');
    expect(render(tpl, { xs: null })).toBe('ab');
    expect(render(tpl, { xs: [] })).toBe('ab');
  });

  it('iterates a non-array value as a single item', () => {
    const tpl = '{{#each xs}}<{{@index}}:{{this}}>{{/each}}';
    expect(render(tpl, { xs: 'one' })).toBe('<0:one>');
    expect(render(tpl, { xs: { k: 1 } })).toBe('<0:{"k":1}>');
    expect(render(tpl, { xs: 0 })).toBe('<0:0>');
    expect(render(tpl, { xs: false })).toBe('<0:false>');
  });

  it('renders holes and null items as empty', () => {
    // biome-ignore lint/suspicious/noSparseArray: testing holes on purpose
    expect(render('{{#each xs}}[{{this}}|{{this|d}}]{{/each}}', { xs: [, null, 1] })).toBe('[|d][|d][1|1]');
  });

  it('can reference root variables inside the loop', () => {
    expect(render('{{#each xs}}{{prefix}}{{this}} {{/each}}', { xs: [1, 2], prefix: '#' })).toBe('#1 #2 ');
  });

  it('nests: this and @index refer to the innermost loop', () => {
    const tpl =
      '{{#each rows}}{{@index}}:{{#each this.cells}}({{@index}}{{this}}){{/each}}{{@index}}/{{/each}}';
    expect(render(tpl, { rows: [{ cells: ['a', 'b'] }, { cells: [] }, { cells: ['c'] }] })).toBe(
      '0:(0a)(1b)0/1:1/2:(0c)2/',
    );
  });

  it('combines with #if inside and outside', () => {
    const tpl =
      '{{#if items}}Items:{{#each items}} {{#if this.done}}[x]{{else}}[ ]{{/if}} {{this.name}}{{/each}}{{else}}No items{{/if}}';
    expect(render(tpl, { items: [{ name: 'a', done: true }, { name: 'b' }] })).toBe('Items: [x] a [ ] b');
    expect(render(tpl, { items: [] })).toBe('No items');
  });
});

describe('renderTemplate: never throws', () => {
  it('handles hostile values', () => {
    const cyclic: Record<string, unknown> = { name: 'c' };
    cyclic.self = cyclic;
    const throwingGetter = Object.defineProperty({}, 'x', {
      enumerable: true,
      get() {
        throw new Error('boom');
      },
    });
    const throwingToJson = {
      toJSON() {
        throw new Error('boom');
      },
    };
    const { proxy: revoked, revoke } = Proxy.revocable<unknown[]>([], {});
    revoke();
    const nullProto = Object.assign(Object.create(null) as Record<string, unknown>, { a: 1 });
    const vars: Record<string, unknown> = {
      cyclic,
      throwingGetter,
      throwingToJson,
      revoked,
      nullProto,
      big: { n: 1n },
    };
    const tpl =
      '{{cyclic}}|{{cyclic.self.name}}|{{throwingGetter.x|d}}|{{throwingGetter}}|{{throwingToJson}}|{{revoked}}|{{revoked.x}}|{{nullProto}}|{{big}}' +
      '|{{#if revoked}}T{{else}}F{{/if}}|{{#each revoked}}E{{/each}}|{{#each cyclic}}{{this.name}}{{/each}}';
    expect(renderTemplate(parseTemplate(tpl), vars)).toBe(
      '{"name":"c","self":"[Circular]"}|c|d|||||{"a":1}|{"n":"1"}|T||c',
    );
  });

  it('tolerates a non-object variables argument at runtime', () => {
    const parsed = parseTemplate('a{{b|x}}');
    expect(renderTemplate(parsed, null as unknown as Record<string, unknown>)).toBe('ax');
    expect(renderTemplate(parsed, 'str' as unknown as Record<string, unknown>)).toBe('ax');
  });

  it('is reusable: one parse, many renders', () => {
    const parsed = parseTemplate('{{a}}-{{#each b}}{{this}}{{/each}}');
    expect(renderTemplate(parsed, { a: 1, b: [1, 2] })).toBe('1-12');
    expect(renderTemplate(parsed, { a: 2, b: [] })).toBe('2-');
    expect(renderTemplate(parsed, {})).toBe('-');
  });
});
