// POST /v1/prompts/:idOrName/render: every template construct through the API, version selection,
// the variables contract at run time, injection safety, and that no model is called.
import { beforeAll, describe, expect, it } from 'vitest';
import { call, createOrg, mock, type TestOrg, unique } from './helpers.ts';

interface Rendered {
  promptId: string;
  version: number;
  versionId: string;
  model: string;
  fallbackModels: string[];
  params: Record<string, unknown>;
  content?: string;
  messages?: { role: string; content: string }[];
}
interface ErrorBody {
  error: { code: string; message: string; details?: { field: string; message: string }[] };
}

let org: TestOrg;
beforeAll(async () => {
  org = await createOrg({ plan: 'enterprise', limits: { perMinute: 100_000, perDay: 10_000_000 } });
});

/** A prompt whose version 1 (labelled production) is `version`; returns its name. */
async function promptWith(version: Record<string, unknown>, labels = ['production']): Promise<string> {
  const name = unique('render');
  await call('POST', '/v1/prompts', { key: org.key, body: { name } });
  const v = await call('POST', `/v1/prompts/${name}/versions`, {
    key: org.key,
    body: { model: 'mock-1', labels, ...version },
  });
  if (v.status !== 201) throw new Error(`version: ${v.status} ${v.text}`);
  return name;
}

const render = (name: string, body: Record<string, unknown>) =>
  call<{ data: Rendered }>('POST', `/v1/prompts/${encodeURIComponent(name)}/render`, { key: org.key, body });

async function renderText(template: string, variables: Record<string, unknown>): Promise<string> {
  const name = await promptWith({ template });
  const res = await render(name, { variables });
  if (res.status !== 200) throw new Error(`render: ${res.status} ${res.text}`);
  return res.body.data.content!;
}

describe('template constructs through render', () => {
  it('{{name}} and {{ name }} insert values; numbers, booleans and objects are rendered as data', async () => {
    expect(
      await renderText('Hi {{name}}, {{ name }}! n={{n}} b={{b}} o={{o}} list={{list}} nil={{nil}}.', {
        name: 'Ada',
        n: 42.5,
        b: false,
        o: { a: 1 },
        list: [1, 'x'],
        nil: null,
      }),
    ).toBe('Hi Ada, Ada! n=42.5 b=false o={"a":1} list=[1,"x"] nil=.');
  });

  it('{{name|default}} falls back for missing and null values, not for empty strings', async () => {
    const template = '[{{tone|friendly and brief}}]';
    const name = await promptWith({ template });
    const out = async (variables: Record<string, unknown>) =>
      (await render(name, { variables })).body.data.content;
    expect(await out({})).toBe('[friendly and brief]');
    expect(await out({ tone: null })).toBe('[friendly and brief]');
    expect(await out({ tone: '' })).toBe('[]');
    expect(await out({ tone: 'formal' })).toBe('[formal]');
  });

  it('dotted paths walk nested objects', async () => {
    expect(
      await renderText('{{user.name}} <{{user.email}}> {{user.address.city|unknown city}}', {
        user: { name: 'Ada', email: 'ada@example.com', address: {} },
      }),
    ).toBe('Ada <ada@example.com> unknown city');
  });

  it('{{#if}}…{{else}}…{{/if}}: truthy values, and false, "", 0, [] and absence as false', async () => {
    const name = await promptWith({ template: '{{#if vip}}VIP {{name}}{{else}}guest{{/if}}' });
    const out = async (variables: Record<string, unknown>) =>
      (await render(name, { variables })).body.data.content;
    expect(await out({ vip: true, name: 'Ada' })).toBe('VIP Ada');
    expect(await out({ vip: 'yes', name: 'Ada' })).toBe('VIP Ada');
    expect(await out({ vip: { any: 1 }, name: 'Ada' })).toBe('VIP Ada');
    for (const vip of [false, '', 0, [], null])
      expect(await out({ vip, name: 'Ada' }), JSON.stringify(vip)).toBe('guest');
    expect(await out({ name: 'Ada' })).toBe('guest');
  });

  it('{{#each}} iterates lists with {{this}}, {{this.field}} and {{@index}}, and nests', async () => {
    expect(
      await renderText(
        '{{#each docs}}[{{@index}}] {{this.title}}: {{#each this.tags}}#{{this}} {{/each}}\n{{/each}}',
        {
          docs: [
            { title: 'Backups', tags: ['ops', 'db'] },
            { title: 'Billing', tags: [] },
          ],
        },
      ),
    ).toBe('[0] Backups: #ops #db \n[1] Billing: \n');
    expect(await renderText('{{#each xs}}<{{this}}>{{/each}}', { xs: ['a', 2, true] })).toBe('<a><2><true>');
    expect(await renderText('{{#each xs}}<{{this}}>{{/each}}|', { xs: [] })).toBe('|');
  });

  it('{{#if}} inside {{#each}} and {{#each}} inside {{#if}}', async () => {
    expect(
      await renderText(
        '{{#if items}}Items:{{#each items}} {{#if this.done}}✓{{else}}✗{{/if}}{{this.name}}{{/each}}{{else}}none{{/if}}',
        {
          items: [
            { name: 'a', done: true },
            { name: 'b', done: false },
          ],
        },
      ),
    ).toBe('Items: ✓a ✗b');
  });

  it('{{{{ escapes a literal "{{", and {{{name}}} is a literal brace around a tag', async () => {
    expect(await renderText('Use {{{{name}} to insert; {{{name}}}', { name: 'Ada' })).toBe(
      'Use {{name}} to insert; {Ada}',
    );
  });

  it('values are data: template syntax in a value comes out literally, never evaluated', async () => {
    const name = await promptWith({ template: 'A {{x}} B {{#if flag}}{{secret|hidden}}{{/if}}' });
    const payloads = [
      '{{secret}}',
      '{{#if flag}}yes{{/if}}',
      '{{{{',
      '}}{{',
      '{{#each x}}{{this}}{{/each}}',
      '{{x}}',
    ];
    for (const x of payloads) {
      const res = await render(name, { variables: { x, flag: false } });
      expect(res.body.data.content, x).toBe(`A ${x} B `);
    }
    const nested = await render(name, {
      variables: { x: { inner: '{{secret}}' }, flag: true, secret: '{{x}}' },
    });
    expect(nested.body.data.content).toBe('A {"inner":"{{secret}}"} B {{x}}');
  });
});

describe('render results', () => {
  it('a chat version renders every message with its role, plus model, params and fallbacks', async () => {
    const name = await promptWith({
      messages: [
        { role: 'system', content: 'You are {{persona}}.' },
        { role: 'user', content: '{{question}}' },
        { role: 'assistant', content: 'Earlier: {{previous|nothing}}' },
      ],
      params: { temperature: 0.3, maxTokens: 50 },
      fallbackModels: ['mock-fast'],
    });
    const res = await render(name, { variables: { persona: 'a pirate', question: 'Where?' } });
    expect(res.status).toBe(200);
    expect(res.body.data).toEqual({
      promptId: expect.stringMatching(/^pmt_/),
      version: 1,
      versionId: expect.stringMatching(/^ver_/),
      model: 'mock-1',
      fallbackModels: ['mock-fast'],
      params: { temperature: 0.3, maxTokens: 50 },
      messages: [
        { role: 'system', content: 'You are a pirate.' },
        { role: 'user', content: 'Where?' },
        { role: 'assistant', content: 'Earlier: nothing' },
      ],
    });
    expect(res.headers.get('etag')).toBeNull();
  });

  it('a text version renders to content', async () => {
    const name = await promptWith({ template: 'Just {{x}}' });
    const res = await render(name, { variables: { x: 'text' } });
    expect(res.body.data.content).toBe('Just text');
    expect(res.body.data).not.toHaveProperty('messages');
  });

  it('applies contract defaults', async () => {
    const name = await promptWith({
      template: '{{greeting}}, {{name}}',
      variables: [
        { name: 'greeting', required: false, default: 'Hello' },
        { name: 'name', required: true },
      ],
    });
    expect((await render(name, { variables: { name: 'Ada' } })).body.data.content).toBe('Hello, Ada');
  });

  it('never calls a model', async () => {
    const marker = unique('no-model-call');
    const name = await promptWith({ template: `${marker} {{x}}` });
    expect((await render(name, { variables: { x: 1 } })).status).toBe(200);
    expect(await mock.calls({ contains: marker })).toEqual([]);
  });
});

describe('variables at render time', () => {
  let name: string;
  beforeAll(async () => {
    name = await promptWith({
      messages: [
        { role: 'system', content: '{{a}} {{b}} {{c|x}}' },
        { role: 'user', content: '{{#if d}}{{d}}{{/if}}' },
      ],
    });
  });

  it('missing required variables → 400 MISSING_VARIABLES naming every one (and any unknown)', async () => {
    const res = await render(name, { variables: { zzz: 1, yyy: 2 } });
    expect(res.status).toBe(400);
    expect(res.body).toEqual({
      error: {
        code: 'MISSING_VARIABLES',
        message: 'Missing required variables: a, b; unknown variables: zzz, yyy',
        details: [
          { field: 'variables.a', message: 'Required variable is missing' },
          { field: 'variables.b', message: 'Required variable is missing' },
          { field: 'variables.zzz', message: 'Variable is not declared by this version' },
          { field: 'variables.yyy', message: 'Variable is not declared by this version' },
        ],
      },
    });
  });

  it('unknown variables → 400 UNKNOWN_VARIABLES naming every one', async () => {
    const res = await render(name, { variables: { a: 1, b: 2, extra: 3, other: 4 } });
    expect(res.status).toBe(400);
    const error = (res.body as unknown as ErrorBody).error;
    expect(error.code).toBe('UNKNOWN_VARIABLES');
    expect(error.message).toBe('Unknown variables: extra, other');
    expect(error.details?.map((d) => d.field)).toEqual(['variables.extra', 'variables.other']);
  });

  it('optional variables may be left out; variables must be an object', async () => {
    expect((await render(name, { variables: { a: 1, b: 2 } })).body.data.messages).toEqual([
      { role: 'system', content: '1 2 x' },
      { role: 'user', content: '' },
    ]);
    const bad = await render(name, { variables: ['a'] });
    expect(bad.status).toBe(400);
    expect(bad.body).toMatchObject({
      error: { code: 'VALIDATION_ERROR', details: [{ field: 'variables' }] },
    });
  });
});

describe('choosing the version', () => {
  let name: string;
  beforeAll(async () => {
    name = await promptWith({ template: 'one {{x|}}' }, []);
    for (const [template, labels] of [
      ['two {{x|}}', ['production']],
      ['three {{x|}}', ['staging']],
    ] as const) {
      await call('POST', `/v1/prompts/${name}/versions`, {
        key: org.key,
        body: { model: 'mock-1', template, labels },
      });
    }
  });

  it('uses production by default, a label, or a version number', async () => {
    expect((await render(name, {})).body.data).toMatchObject({ version: 2, content: 'two ' });
    expect((await render(name, { label: 'staging' })).body.data).toMatchObject({
      version: 3,
      content: 'three ',
    });
    expect((await render(name, { version: 1 })).body.data).toMatchObject({ version: 1, content: 'one ' });
  });

  it('unknown version or label → 404 VERSION_NOT_FOUND; both at once → 400', async () => {
    const v = await render(name, { version: 9 });
    expect(v.status).toBe(404);
    expect(v.body).toEqual({
      error: { code: 'VERSION_NOT_FOUND', message: `Prompt '${name}' has no version 9` },
    });
    const l = await render(name, { label: 'nope' });
    expect(l.status).toBe(404);
    expect(l.body).toEqual({
      error: { code: 'VERSION_NOT_FOUND', message: `Prompt '${name}' has no version labelled 'nope'` },
    });
    const both = await render(name, { version: 1, label: 'staging' });
    expect(both.status).toBe(400);
    expect(both.body).toMatchObject({ error: { code: 'VALIDATION_ERROR', details: [{ field: 'label' }] } });
    expect((await render(name, { label: 'Bad Label' })).status).toBe(400);
  });

  it("no production version → 404 with the seed's message", async () => {
    const unlabelled = await promptWith({ template: 'x' }, []);
    const res = await render(unlabelled, {});
    expect(res.status).toBe(404);
    expect(res.body).toEqual({
      error: {
        code: 'PROMPT_NOT_FOUND',
        message: `Prompt '${unlabelled}' not found or has no PRODUCTION version`,
      },
    });
    const unknown = await render('no-such-prompt', {});
    expect(unknown.status).toBe(404);
    expect(unknown.body).toMatchObject({ error: { code: 'PROMPT_NOT_FOUND' } });
  });
});
