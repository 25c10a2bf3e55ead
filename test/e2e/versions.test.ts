// Prompt versions: creation (text and chat), numbering under concurrency, validation, the variables
// contract, INVALID_TEMPLATE locations, immutability, listing and ETag/304.
import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { call, createOrg, type TestOrg, unique } from './helpers.ts';

const sql = postgres(inject('databaseUrl'), { max: 2, onnotice: () => {} });
afterAll(() => sql.end());

interface Version {
  id: string;
  promptId: string;
  version: number;
  type: 'text' | 'chat';
  template: string | null;
  messages: { role: string; content: string }[] | null;
  model: string;
  params: Record<string, unknown>;
  fallbackModels: string[];
  variables: { name: string; required: boolean; default?: string; description?: string }[];
  cacheTtlSeconds: number | null;
  commitMessage: string | null;
  labels: string[];
  createdAt: string;
}
interface ErrorBody {
  error: { code: string; message: string; details?: { field: string; message: string }[] };
}

let org: TestOrg;
beforeAll(async () => {
  org = await createOrg({ plan: 'enterprise', limits: { perMinute: 100_000, perDay: 10_000_000 } });
});

async function newPrompt(): Promise<{ id: string; name: string }> {
  const res = await call<{ data: { id: string; name: string } }>('POST', '/v1/prompts', {
    key: org.key,
    body: { name: unique('p') },
  });
  return res.body.data;
}

const postVersion = (prompt: string, body: Record<string, unknown>) =>
  call<{ data: Version }>('POST', `/v1/prompts/${encodeURIComponent(prompt)}/versions`, {
    key: org.key,
    body: { model: 'mock-1', ...body },
  });

describe('creating versions', () => {
  it('a text version: 201, Location, inferred variables, numbered 1', async () => {
    const p = await newPrompt();
    const res = await postVersion(p.name, {
      template: 'Hello {{name}} from {{team|the team}}{{#if vip}}, VIP{{/if}}',
      params: { temperature: 0.2, maxTokens: 100, topP: 0.9, stop: ['\n\n'] },
      fallbackModels: ['mock-fast'],
      cacheTtlSeconds: 60,
      commitMessage: 'first',
    });
    expect(res.status).toBe(201);
    expect(res.body.data).toEqual({
      id: expect.stringMatching(/^ver_/),
      promptId: p.id,
      version: 1,
      type: 'text',
      template: 'Hello {{name}} from {{team|the team}}{{#if vip}}, VIP{{/if}}',
      messages: null,
      model: 'mock-1',
      params: { temperature: 0.2, maxTokens: 100, topP: 0.9, stop: ['\n\n'] },
      fallbackModels: ['mock-fast'],
      variables: [
        { name: 'name', required: true },
        { name: 'team', required: false, default: 'the team' },
        { name: 'vip', required: false },
      ],
      cacheTtlSeconds: 60,
      commitMessage: 'first',
      labels: [],
      createdAt: expect.any(String),
    });
    expect(res.headers.get('location')).toBe(`/v1/prompts/${p.id}/versions/1`);
    const prompt = await call<{ data: { latestVersion: number } }>('GET', `/v1/prompts/${p.id}`, {
      key: org.key,
    });
    expect(prompt.body.data.latestVersion).toBe(1);
  });

  it('a chat version takes variables from system, user and assistant messages', async () => {
    const p = await newPrompt();
    const res = await postVersion(p.id, {
      messages: [
        { role: 'system', content: 'You are {{persona}}.' },
        { role: 'user', content: 'Question: {{question}}' },
        { role: 'assistant', content: 'Previous answer: {{previous|none}}' },
      ],
    });
    expect(res.status).toBe(201);
    expect(res.body.data).toMatchObject({ type: 'chat', template: null, version: 1 });
    expect(res.body.data.variables).toEqual([
      { name: 'persona', required: true },
      { name: 'question', required: true },
      { name: 'previous', required: false, default: 'none' },
    ]);
  });

  it('numbers versions 1, 2, 3… and can label the new version at once', async () => {
    const p = await newPrompt();
    const numbers = [];
    for (let i = 0; i < 3; i++)
      numbers.push((await postVersion(p.id, { template: `v${i}` })).body.data.version);
    expect(numbers).toEqual([1, 2, 3]);
    const labelled = await postVersion(p.id, { template: 'v4', labels: ['staging', 'canary'] });
    expect(labelled.body.data).toMatchObject({ version: 4, labels: ['canary', 'staging'] });
    const prompt = await call<{ data: { latestVersion: number; labels: Record<string, number> } }>(
      'GET',
      `/v1/prompts/${p.id}`,
      { key: org.key },
    );
    expect(prompt.body.data).toMatchObject({ latestVersion: 4, labels: { canary: 4, staging: 4 } });
  });

  it('10 concurrent creates get exactly the numbers 1..10', async () => {
    const p = await newPrompt();
    const results = await Promise.all(
      Array.from({ length: 10 }, (_, i) => postVersion(p.id, { template: `concurrent ${i}` })),
    );
    expect(results.map((r) => r.status)).toEqual(Array(10).fill(201));
    expect(results.map((r) => r.body.data.version).sort((a, b) => a - b)).toEqual([
      1, 2, 3, 4, 5, 6, 7, 8, 9, 10,
    ]);
    const rows = await sql<{ version: number; template: string }[]>`
      SELECT version, template FROM prompt_versions WHERE prompt_id = ${p.id} ORDER BY version`;
    expect(rows.map((r) => r.version)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    // each response describes the row it created
    for (const r of results) {
      expect(rows.find((row) => row.version === r.body.data.version)?.template).toBe(r.body.data.template);
    }
    const prompt = await call<{ data: { latestVersion: number } }>('GET', `/v1/prompts/${p.id}`, {
      key: org.key,
    });
    expect(prompt.body.data.latestVersion).toBe(10);
  });

  it('validates params and the rest with field-level details', async () => {
    const p = await newPrompt();
    const res = await postVersion(p.id, {
      template: 'x',
      params: { temperature: 2.5, maxTokens: 0, topP: 1.5, stop: ['a', 'b', 'c', 'd', 'e'], bogus: 1 },
      fallbackModels: ['a', 'b', 'c', 'd', 'e', 'f'],
      cacheTtlSeconds: 0,
    });
    expect(res.status).toBe(400);
    const body = res.body as unknown as ErrorBody;
    expect(body.error.code).toBe('VALIDATION_ERROR');
    const fields = body.error.details!.map((d) => d.field);
    for (const field of [
      'params.temperature',
      'params.maxTokens',
      'params.topP',
      'params.stop',
      'params',
      'fallbackModels',
      'cacheTtlSeconds',
    ]) {
      expect(fields, field).toContain(field);
    }

    for (const t of [-0.1, 2.01]) {
      const bad = await postVersion(p.id, { template: 'x', params: { temperature: t } });
      expect(bad.status).toBe(400);
      expect((bad.body as unknown as ErrorBody).error.details).toEqual([
        { field: 'params.temperature', message: expect.any(String) },
      ]);
    }
    for (const t of [0, 2])
      expect((await postVersion(p.id, { template: 'x', params: { temperature: t } })).status).toBe(201);
  });

  it('needs exactly one of template or messages, a model, and valid message roles', async () => {
    const p = await newPrompt();
    const cases: [Record<string, unknown>, string][] = [
      [{}, 'template'],
      [{ template: 'a', messages: [{ role: 'user', content: 'b' }] }, 'template'],
      [{ template: 'a', model: '' }, 'model'],
      [{ messages: [{ role: 'tool', content: 'b' }] }, 'messages.0.role'],
      [{ messages: [] }, 'messages'],
    ];
    for (const [body, field] of cases) {
      const res = await postVersion(p.id, body);
      expect(res.status, JSON.stringify(body)).toBe(400);
      expect((res.body as unknown as ErrorBody).error.details?.map((d) => d.field)).toContain(field);
    }
    expect((await sql`SELECT 1 FROM prompt_versions WHERE prompt_id = ${p.id}`).length).toBe(0);
  });

  it('unknown prompt → 404 PROMPT_NOT_FOUND', async () => {
    const res = await postVersion('no-such-prompt', { template: 'x' });
    expect(res.status).toBe(404);
    expect(res.body).toMatchObject({ error: { code: 'PROMPT_NOT_FOUND' } });
  });
});

describe('the variables contract', () => {
  it('an explicit contract is stored as given, with descriptions and unused variables', async () => {
    const p = await newPrompt();
    const variables = [
      { name: 'name', required: true, description: 'Customer first name' },
      { name: 'tone', required: false, default: 'friendly' },
      { name: 'locale', required: false, description: 'Not used yet; accepted by every version' },
    ];
    const res = await postVersion(p.id, { template: 'Hi {{name}}, in a {{tone}} tone', variables });
    expect(res.status).toBe(201);
    expect(res.body.data.variables).toEqual(variables);
  });

  it('a template variable missing from an explicit contract is 400 VALIDATION_ERROR naming each', async () => {
    const p = await newPrompt();
    const res = await postVersion(p.id, {
      messages: [
        { role: 'system', content: '{{persona}}' },
        { role: 'user', content: '{{question}} {{#each docs}}{{this}}{{/each}}' },
      ],
      variables: [{ name: 'question' }],
    });
    expect(res.status).toBe(400);
    expect(res.body).toEqual({
      error: {
        code: 'VALIDATION_ERROR',
        message: 'Variables used by the template but not declared: persona, docs',
        details: [
          {
            field: 'variables',
            message: "The template uses 'persona', which the variables contract does not declare",
          },
          {
            field: 'variables',
            message: "The template uses 'docs', which the variables contract does not declare",
          },
        ],
      },
    });
  });

  it('bad variable specs are field errors', async () => {
    const p = await newPrompt();
    const res = await postVersion(p.id, {
      template: '{{a}}',
      variables: [{ name: 'a' }, { name: 'not valid' }, { name: 'a' }],
    });
    expect(res.status).toBe(400);
    expect((res.body as unknown as ErrorBody).error.details?.map((d) => d.field)).toEqual([
      'variables.1.name',
    ]);
    const dup = await postVersion(p.id, { template: '{{a}}', variables: [{ name: 'a' }, { name: 'a' }] });
    expect((dup.body as unknown as ErrorBody).error.details).toEqual([
      { field: 'variables.1.name', message: "Variable 'a' is declared twice" },
    ]);
  });
});

describe('INVALID_TEMPLATE with line and column', () => {
  const cases: [string, Record<string, unknown>, string, RegExp][] = [
    [
      'unclosed block',
      { template: 'Hello\n  {{#if vip}}VIP' },
      'template',
      /Unclosed \{\{#if vip\}\}.*\(line 2, column 3\)$/,
    ],
    ['unclosed tag', { template: 'a {{name' }, 'template', /Unclosed tag.*\(line 1, column 3\)$/],
    [
      'mismatched close',
      { template: '{{#each xs}}\n{{/if}}' },
      'template',
      /\{\{\/if\}\} cannot close \{\{#each xs\}\}.*\(line 2, column 1\)$/,
    ],
    [
      'else outside if',
      { template: 'x\ny\n   {{else}}' },
      'template',
      /\{\{else\}\} outside.*\(line 3, column 4\)$/,
    ],
    [
      'unknown block',
      { template: '{{#with a}}{{/with}}' },
      'template',
      /Unknown block.*\(line 1, column 1\)$/,
    ],
    ['empty tag', { template: 'a{{ }}' }, 'template', /Empty tag.*\(line 1, column 2\)$/],
    ['invalid name', { template: '{{a-b}}' }, 'template', /Invalid variable name.*\(line 1, column 1\)$/],
    [
      '@index outside each',
      { template: '{{@index}}' },
      'template',
      /inside \{\{#each\}\}.*\(line 1, column 1\)$/,
    ],
    [
      'this outside each',
      { template: 'x {{this.name}}' },
      'template',
      /can only be used inside \{\{#each\}\}.*\(line 1, column 3\)$/,
    ],
    [
      'duplicate else',
      { template: '{{#if a}}1{{else}}2{{else}}3{{/if}}' },
      'template',
      /Duplicate \{\{else\}\}.*\(line 1, column 20\)$/,
    ],
    [
      'else inside each',
      { template: '{{#each xs}}{{else}}{{/each}}' },
      'template',
      /not allowed directly inside.*\(line 1, column 13\)$/,
    ],
    [
      'unknown closing tag',
      { template: '{{#if a}}{{/with}}' },
      'template',
      /Unknown closing tag.*\(line 1, column 10\)$/,
    ],
    [
      'block without a variable',
      { template: '\n{{#if}}{{/if}}' },
      'template',
      /requires a variable name.*\(line 2, column 1\)$/,
    ],
    [
      'missing variable name',
      { template: '{{|fallback}}' },
      'template',
      /Missing variable name.*\(line 1, column 1\)$/,
    ],
    [
      // 32 levels at most since the render-budget hardening (was 100)
      'blocks nested too deep',
      { template: `${'{{#if a}}'.repeat(33)}${'{{/if}}'.repeat(33)}` },
      'template',
      /nested more than 32 levels.*\(line 1, column 289\)$/,
    ],
    [
      'error in the second message',
      {
        messages: [
          { role: 'system', content: 'ok {{a}}' },
          { role: 'user', content: 'line one\nline {{/each}}' },
        ],
      },
      'messages.1.content',
      /Unmatched \{\{\/each\}\}.*\(line 2, column 6\)$/,
    ],
  ];

  it.each(cases)('%s', async (_name, body, field, detail) => {
    const p = await newPrompt();
    const res = await postVersion(p.id, body);
    expect(res.status).toBe(400);
    const error = (res.body as unknown as ErrorBody).error;
    expect(error.code).toBe('INVALID_TEMPLATE');
    expect(error.message.startsWith(`${field}: `)).toBe(true);
    expect(error.message).toMatch(/\(line \d+, column \d+\)$/);
    expect(error.details).toHaveLength(1);
    expect(error.details?.[0]?.field).toBe(field);
    expect(error.details?.[0]?.message).toMatch(detail);
    // nothing was stored
    expect((await sql`SELECT 1 FROM prompt_versions WHERE prompt_id = ${p.id}`).length).toBe(0);
  });
});

describe('versions are immutable', () => {
  it('PUT, PATCH and DELETE on a version are 405 METHOD_NOT_ALLOWED and change nothing', async () => {
    const p = await newPrompt();
    await postVersion(p.id, { template: 'original {{x}}' });
    const before = await call<{ data: Version }>('GET', `/v1/prompts/${p.id}/versions/1`, { key: org.key });
    for (const method of ['PUT', 'PATCH', 'DELETE']) {
      const res = await call(method, `/v1/prompts/${p.id}/versions/1`, {
        key: org.key,
        ...(method === 'DELETE' ? {} : { body: { template: 'changed' } }),
      });
      expect(res.status, method).toBe(405);
      expect(res.headers.get('allow')).toBe('GET, HEAD');
      expect(res.body).toMatchObject({
        error: { code: 'METHOD_NOT_ALLOWED', message: expect.stringContaining('immutable') },
      });
    }
    const after = await call<{ data: Version }>('GET', `/v1/prompts/${p.id}/versions/1`, { key: org.key });
    expect(after.body).toEqual(before.body);
    const [row] = await sql<{ template: string }[]>`
      SELECT template FROM prompt_versions WHERE prompt_id = ${p.id} AND version = 1`;
    expect(row?.template).toBe('original {{x}}');
  });

  it('creating more versions leaves earlier ones as they were', async () => {
    const p = await newPrompt();
    const v1 = (await postVersion(p.id, { template: 'one', params: { temperature: 1 } })).body.data;
    await postVersion(p.id, { template: 'two', params: { temperature: 0 } });
    const again = await call<{ data: Version }>('GET', `/v1/prompts/${p.id}/versions/1`, { key: org.key });
    expect(again.body.data).toEqual(v1);
  });
});

describe('reading versions', () => {
  let prompt: { id: string; name: string };
  beforeAll(async () => {
    prompt = await newPrompt();
    for (let i = 1; i <= 25; i++) await postVersion(prompt.id, { template: `version ${i}` });
  });

  it('GET …/versions/:n by prompt id or name; unknown n → 404 VERSION_NOT_FOUND; bad n → 400', async () => {
    const byName = await call<{ data: Version }>('GET', `/v1/prompts/${prompt.name}/versions/7`, {
      key: org.key,
    });
    expect(byName.status).toBe(200);
    expect(byName.body.data).toMatchObject({ version: 7, template: 'version 7', promptId: prompt.id });

    const missing = await call('GET', `/v1/prompts/${prompt.id}/versions/26`, { key: org.key });
    expect(missing.status).toBe(404);
    expect(missing.body).toEqual({
      error: { code: 'VERSION_NOT_FOUND', message: `Prompt '${prompt.id}' has no version 26` },
    });
    for (const n of ['0', 'abc', '1.5', '-1']) {
      const bad = await call('GET', `/v1/prompts/${prompt.id}/versions/${n}`, { key: org.key });
      expect(bad.status, n).toBe(400);
      expect(bad.body).toMatchObject({ error: { code: 'VALIDATION_ERROR', details: [{ field: 'n' }] } });
    }
  });

  it('lists newest first with the pagination envelope and edges', async () => {
    const list = (q: string) =>
      call<{ data: Version[]; meta: Record<string, number> }>(
        'GET',
        `/v1/prompts/${prompt.id}/versions${q}`,
        {
          key: org.key,
        },
      );
    const first = await list('');
    expect(first.body.meta).toEqual({ page: 1, per_page: 20, total: 25 });
    expect(first.body.data.map((v) => v.version)).toEqual(Array.from({ length: 20 }, (_, i) => 25 - i));
    const second = await list('?page=2');
    expect(second.body.data.map((v) => v.version)).toEqual([5, 4, 3, 2, 1]);
    expect((await list('?per_page=1')).body.data.map((v) => v.version)).toEqual([25]);
    expect((await list('?per_page=100')).body.data).toHaveLength(25);
    expect((await list('?per_page=0')).status).toBe(400);
    expect((await list('?per_page=101')).status).toBe(400);
    expect((await list('?page=3')).body).toEqual({ data: [], meta: { page: 3, per_page: 20, total: 25 } });
  });

  it('GET version and version list carry ETag/Cache-Control/Vary and answer 304', async () => {
    for (const path of [
      `/v1/prompts/${prompt.id}/versions/3`,
      `/v1/prompts/${prompt.id}/versions?per_page=5`,
    ]) {
      const res = await call('GET', path, { key: org.key });
      const etag = res.headers.get('etag');
      expect(etag, path).toMatch(/^"[A-Za-z0-9_-]+"$/);
      expect(res.headers.get('cache-control')).toBe('private, max-age=0, must-revalidate');
      expect(res.headers.get('vary')).toBe('Authorization, x-api-key');
      const cond = await call('GET', path, { key: org.key, headers: { 'if-none-match': etag! } });
      expect(cond.status, path).toBe(304);
      expect(cond.text).toBe('');
    }
  });

  it("a version's ETag changes when a label moves onto it (its labels are part of it)", async () => {
    const path = `/v1/prompts/${prompt.id}/versions/2`;
    const before = await call('GET', path, { key: org.key });
    await call('PUT', `/v1/prompts/${prompt.id}/labels/etag-test`, { key: org.key, body: { version: 2 } });
    const after = await call<{ data: Version }>('GET', path, {
      key: org.key,
      headers: { 'if-none-match': before.headers.get('etag')! },
    });
    expect(after.status).toBe(200);
    expect(after.body.data.labels).toEqual(['etag-test']);
  });
});
