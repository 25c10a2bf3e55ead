// The built-in template library: list, get, and `use` (a prompt with version 1 labelled production).
import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { generateApiKey } from '../../api/src/auth/api-key.ts';
import { newId } from '../../infra/src/ids.ts';
import { call, createOrg, type TestOrg, unique } from './helpers.ts';

const sql = postgres(inject('databaseUrl'), { max: 2, onnotice: () => {} });
afterAll(() => sql.end());

interface Template {
  id: string;
  name: string;
  description: string;
  category: string;
  messages: { role: string; content: string }[];
  variables: { name: string; required: boolean; description?: string }[];
  suggestedModel: string;
  params: Record<string, unknown>;
  example: Record<string, unknown>;
}

let org: TestOrg;
beforeAll(async () => {
  org = await createOrg({ plan: 'enterprise', limits: { perMinute: 100_000, perDay: 10_000_000 } });
});

async function keyWith(scopes: string[], promptIds: string[] | null = null): Promise<string> {
  const key = generateApiKey();
  await sql`
    INSERT INTO api_keys (id, org_id, owner_member_id, name, key_hash, summary, scopes, prompt_ids)
    VALUES (${newId('key')}, ${org.orgId}, ${org.ownerId}, ${unique('key')}, ${key.hash}, ${key.summary},
            ${scopes}, ${promptIds})`;
  return key.plaintext;
}

describe('GET /v1/templates', () => {
  it('lists the library with the envelope; each template is complete', async () => {
    const res = await call<{ data: Template[]; meta: Record<string, number> }>('GET', '/v1/templates', {
      key: org.key,
    });
    expect(res.status).toBe(200);
    expect(res.body.meta).toEqual({ page: 1, per_page: 20, total: res.body.data.length });
    expect(res.body.data.length).toBeGreaterThanOrEqual(6);
    const ids = res.body.data.map((t) => t.id);
    for (const id of [
      'tpl_summarize',
      'tpl_translate',
      'tpl_classify',
      'tpl_extract_json',
      'tpl_rewrite_tone',
    ]) {
      expect(ids).toContain(id);
    }
    for (const t of res.body.data) {
      expect(t.name.length).toBeGreaterThan(0);
      expect(t.description.length).toBeGreaterThan(20);
      expect(t.messages.length).toBeGreaterThan(0);
      expect(t.variables.length).toBeGreaterThan(0);
      expect(t.suggestedModel.length).toBeGreaterThan(0);
    }
    expect(res.headers.get('etag')).toMatch(/^"/);
    const cond = await call('GET', '/v1/templates', {
      key: org.key,
      headers: { 'if-none-match': res.headers.get('etag')! },
    });
    expect(cond.status).toBe(304);
  });

  it('filters by category and paginates; bad category or per_page → 400', async () => {
    const all = await call<{ data: Template[]; meta: { total: number } }>(
      'GET',
      '/v1/templates?per_page=100',
      {
        key: org.key,
      },
    );
    const writing = await call<{ data: Template[]; meta: { total: number } }>(
      'GET',
      '/v1/templates?category=writing',
      {
        key: org.key,
      },
    );
    expect(writing.body.data.length).toBeGreaterThan(0);
    expect(writing.body.data.every((t) => t.category === 'writing')).toBe(true);
    expect(writing.body.meta.total).toBe(all.body.data.filter((t) => t.category === 'writing').length);

    const one = await call<{ data: Template[] }>('GET', '/v1/templates?per_page=1&page=2', { key: org.key });
    expect(one.body.data.map((t) => t.id)).toEqual([all.body.data[1]?.id]);
    const past = await call('GET', '/v1/templates?page=50', { key: org.key });
    expect(past.body).toEqual({ data: [], meta: { page: 50, per_page: 20, total: all.body.meta.total } });

    for (const q of ['?category=poetry', '?per_page=0', '?per_page=101']) {
      const bad = await call('GET', `/v1/templates${q}`, { key: org.key });
      expect(bad.status, q).toBe(400);
      expect(bad.body).toMatchObject({ error: { code: 'VALIDATION_ERROR' } });
    }
  });

  it('GET /v1/templates/:id returns one; unknown → 404 TEMPLATE_NOT_FOUND', async () => {
    const res = await call<{ data: Template }>('GET', '/v1/templates/tpl_translate', { key: org.key });
    expect(res.status).toBe(200);
    expect(res.body.data).toMatchObject({ id: 'tpl_translate', category: 'language' });
    const missing = await call('GET', '/v1/templates/tpl_nope', { key: org.key });
    expect(missing.status).toBe(404);
    expect(missing.body).toEqual({
      error: { code: 'TEMPLATE_NOT_FOUND', message: "Template 'tpl_nope' not found" },
    });
  });

  it('needs prompts:read', async () => {
    const runner = await keyWith(['runs:execute']);
    expect((await call('GET', '/v1/templates', { key: runner })).status).toBe(403);
    const reader = await keyWith(['prompts:read']);
    expect((await call('GET', '/v1/templates', { key: reader })).status).toBe(200);
  });
});

describe('POST /v1/templates/:id/use', () => {
  it('creates a prompt with version 1 labelled production, ready to render and run', async () => {
    const name = unique('my-summarizer');
    const res = await call<{
      data: {
        prompt: {
          id: string;
          name: string;
          description: string;
          tags: string[];
          latestVersion: number;
          labels: Record<string, number>;
        };
        version: {
          version: number;
          messages: unknown[];
          model: string;
          labels: string[];
          commitMessage: string;
          variables: unknown[];
        };
      };
    }>('POST', '/v1/templates/tpl_summarize/use', { key: org.key, body: { name } });
    expect(res.status).toBe(201);
    const template = (await call<{ data: Template }>('GET', '/v1/templates/tpl_summarize', { key: org.key }))
      .body.data;
    const { prompt, version } = res.body.data;
    expect(prompt).toMatchObject({
      name,
      description: template.description,
      tags: ['writing'],
      latestVersion: 1,
      labels: { production: 1 },
    });
    expect(res.headers.get('location')).toBe(`/v1/prompts/${prompt.id}`);
    expect(version).toMatchObject({
      version: 1,
      messages: template.messages,
      model: template.suggestedModel,
      labels: ['production'],
      commitMessage: 'Created from template tpl_summarize',
      variables: template.variables,
    });

    const rendered = await call<{ data: { messages: { role: string; content: string }[] } }>(
      'POST',
      `/v1/prompts/${prompt.id}/render`,
      { key: org.key, body: { variables: template.example } },
    );
    expect(rendered.status).toBe(200);
    expect(rendered.body.data.messages.map((m) => m.role)).toEqual(['system', 'user']);
    expect(rendered.body.data.messages[1]?.content).toContain(String(template.example.text));
    expect(rendered.body.data.messages[1]?.content).not.toContain('{{');
  });

  it('takes a model, description and tags; the name must be free (409, nothing half-created)', async () => {
    const name = unique('classifier');
    const res = await call<{
      data: { prompt: { id: string; tags: string[]; description: string }; version: { model: string } };
    }>('POST', '/v1/templates/tpl_classify/use', {
      key: org.key,
      body: { name, model: 'mock-1', description: 'Routes tickets', tags: ['support'] },
    });
    expect(res.status).toBe(201);
    expect(res.body.data.version.model).toBe('mock-1');
    expect(res.body.data.prompt).toMatchObject({ description: 'Routes tickets', tags: ['support'] });

    const taken = await call('POST', '/v1/templates/tpl_translate/use', { key: org.key, body: { name } });
    expect(taken.status).toBe(409);
    expect(taken.body).toMatchObject({ error: { code: 'CONFLICT' } });
    const rows = await sql`SELECT 1 FROM prompts WHERE org_id = ${org.orgId} AND name = ${name}`;
    expect(rows.length).toBe(1);
    const versions = await sql`SELECT 1 FROM prompt_versions WHERE prompt_id = ${res.body.data.prompt.id}`;
    expect(versions.length).toBe(1);
  });

  it('unknown template 404; bad body 400; needs prompts:write and an unrestricted key', async () => {
    const unknown = await call('POST', '/v1/templates/tpl_nope/use', {
      key: org.key,
      body: { name: unique('x') },
    });
    expect(unknown.status).toBe(404);
    expect(unknown.body).toMatchObject({ error: { code: 'TEMPLATE_NOT_FOUND' } });

    // the name may be left out (default: the template's name; api-contract.test.ts), not be empty
    const bad = await call('POST', '/v1/templates/tpl_summarize/use', { key: org.key, body: { name: '' } });
    expect(bad.status).toBe(400);
    expect(bad.body).toMatchObject({ error: { code: 'VALIDATION_ERROR', details: [{ field: 'name' }] } });

    const reader = await keyWith(['prompts:read']);
    expect(
      (await call('POST', '/v1/templates/tpl_summarize/use', { key: reader, body: { name: unique('x') } }))
        .status,
    ).toBe(403);
    const restricted = await keyWith(['prompts:write'], ['pmt_other']);
    const res = await call('POST', '/v1/templates/tpl_summarize/use', {
      key: restricted,
      body: { name: unique('x') },
    });
    expect(res.status).toBe(403);
    expect(res.body).toMatchObject({ error: { code: 'FORBIDDEN' } });
  });
});
