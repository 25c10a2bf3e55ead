// Prompts CRUD, listing (pagination, filters), ETag/304, cross-org isolation, scopes and
// prompt-restricted keys, over HTTP against the real stack.
import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { generateApiKey } from '../../api/src/auth/api-key.ts';
import { newId } from '../../infra/src/ids.ts';
import { call, createOrg, type TestOrg, unique } from './helpers.ts';

const sql = postgres(inject('databaseUrl'), { max: 2, onnotice: () => {} });
afterAll(() => sql.end());

/** A generous plan so that the many calls below never meet a rate limit. */
const bigOrg = () => createOrg({ plan: 'enterprise', limits: { perMinute: 100_000, perDay: 10_000_000 } });

interface Prompt {
  id: string;
  name: string;
  description: string;
  tags: string[];
  latestVersion: number;
  labels: Record<string, number>;
  createdAt: string;
  updatedAt: string;
}
interface ListBody<T> {
  data: T[];
  meta: { page: number; per_page: number; total: number };
}

async function newPrompt(key: string, body: Record<string, unknown> = {}): Promise<Prompt> {
  const res = await call<{ data: Prompt }>('POST', '/v1/prompts', {
    key,
    body: { name: unique('p'), ...body },
  });
  if (res.status !== 201) throw new Error(`newPrompt: ${res.status} ${res.text}`);
  return res.body.data;
}

/** A key with chosen scopes / prompt restriction (the keys API is another issue: rows go in directly). */
async function keyWith(org: TestOrg, scopes: string[], promptIds: string[] | null = null): Promise<string> {
  const key = generateApiKey();
  await sql`
    INSERT INTO api_keys (id, org_id, owner_member_id, name, key_hash, summary, scopes, prompt_ids)
    VALUES (${newId('key')}, ${org.orgId}, ${org.ownerId}, ${unique('key')}, ${key.hash}, ${key.summary},
            ${scopes}, ${promptIds})`;
  return key.plaintext;
}

describe('prompts CRUD', () => {
  let org: TestOrg;
  beforeAll(async () => {
    org = await bigOrg();
  });

  it('creates a prompt: 201, Location, and the prompt as data', async () => {
    const name = unique('Welcome Email');
    const res = await call<{ data: Prompt }>('POST', '/v1/prompts', {
      key: org.key,
      body: { name, description: 'Greets new users', tags: ['email', 'onboarding', 'email'] },
    });
    expect(res.status).toBe(201);
    expect(res.body.data).toEqual({
      id: expect.stringMatching(/^pmt_/),
      name,
      description: 'Greets new users',
      tags: ['email', 'onboarding'],
      latestVersion: 0,
      labels: {},
      createdAt: expect.any(String),
      updatedAt: expect.any(String),
    });
    expect(res.headers.get('location')).toBe(`/v1/prompts/${res.body.data.id}`);
    expect(new Date(res.body.data.createdAt).toISOString()).toBe(res.body.data.createdAt);
  });

  it('finds a prompt by id and by name (URL-encoded), also under /api/v1', async () => {
    const p = await newPrompt(org.key, { name: unique('Name with spaces/and slash') });
    const byId = await call<{ data: Prompt }>('GET', `/v1/prompts/${p.id}`, { key: org.key });
    const byName = await call<{ data: Prompt }>('GET', `/v1/prompts/${encodeURIComponent(p.name)}`, {
      key: org.key,
    });
    const seedBase = await call<{ data: Prompt }>('GET', `/api/v1/prompts/${p.id}`, { key: org.key });
    expect(byId.status).toBe(200);
    expect(byId.body.data).toEqual(p);
    expect(byName.body.data).toEqual(p);
    expect(seedBase.body.data).toEqual(p);
  });

  it('refuses invalid bodies with field details, duplicate names with 409 CONFLICT', async () => {
    const bad = await call('POST', '/v1/prompts', { key: org.key, body: { name: 'pmt_x', tags: [''] } });
    expect(bad.status).toBe(400);
    expect(bad.body).toMatchObject({ error: { code: 'VALIDATION_ERROR' } });
    const fields = (bad.body as { error: { details: { field: string }[] } }).error.details.map(
      (d) => d.field,
    );
    expect(fields.sort()).toEqual(['name', 'tags.0']);

    const unknownField = await call('POST', '/v1/prompts', { key: org.key, body: { name: 'x', nope: 1 } });
    expect(unknownField.status).toBe(400);

    const p = await newPrompt(org.key);
    const dup = await call('POST', '/v1/prompts', { key: org.key, body: { name: p.name } });
    expect(dup.status).toBe(409);
    expect(dup.body).toEqual({
      error: { code: 'CONFLICT', message: `A prompt named '${p.name}' already exists` },
    });
  });

  it('unknown prompt → 404 PROMPT_NOT_FOUND', async () => {
    const res = await call('GET', '/v1/prompts/does-not-exist', { key: org.key });
    expect(res.status).toBe(404);
    expect(res.body).toEqual({
      error: { code: 'PROMPT_NOT_FOUND', message: "Prompt 'does-not-exist' not found" },
    });
    expect(res.headers.get('cache-control')).toBe('no-store');
    expect(res.headers.get('etag')).toBeNull();
  });

  it('PATCH renames and edits description and tags; a taken name is 409; an empty patch is 400', async () => {
    const p = await newPrompt(org.key, { tags: ['a'] });
    const other = await newPrompt(org.key);
    const newName = unique('renamed');
    const res = await call<{ data: Prompt }>('PATCH', `/v1/prompts/${p.id}`, {
      key: org.key,
      body: { name: newName, description: 'now described', tags: ['b', 'c'] },
    });
    expect(res.status).toBe(200);
    expect(res.body.data).toMatchObject({
      id: p.id,
      name: newName,
      description: 'now described',
      tags: ['b', 'c'],
    });
    expect(res.body.data.updatedAt >= p.updatedAt).toBe(true);

    // only description: the rest is untouched
    const partial = await call<{ data: Prompt }>('PATCH', `/v1/prompts/${encodeURIComponent(newName)}`, {
      key: org.key,
      body: { description: '' },
    });
    expect(partial.body.data).toMatchObject({ name: newName, description: '', tags: ['b', 'c'] });

    expect((await call('GET', `/v1/prompts/${encodeURIComponent(p.name)}`, { key: org.key })).status).toBe(
      404,
    );

    const conflict = await call('PATCH', `/v1/prompts/${p.id}`, { key: org.key, body: { name: other.name } });
    expect(conflict.status).toBe(409);
    expect(conflict.body).toMatchObject({ error: { code: 'CONFLICT' } });

    const empty = await call('PATCH', `/v1/prompts/${p.id}`, { key: org.key, body: {} });
    expect(empty.status).toBe(400);
    expect(empty.body).toMatchObject({ error: { code: 'VALIDATION_ERROR' } });
  });

  it('DELETE soft-deletes: 204, then 404 everywhere, and the name can be reused', async () => {
    const p = await newPrompt(org.key);
    await call('POST', `/v1/prompts/${p.id}/versions`, {
      key: org.key,
      body: { template: 'x', model: 'mock-1', labels: ['production'] },
    });
    const del = await call('DELETE', `/v1/prompts/${p.id}`, { key: org.key });
    expect(del.status).toBe(204);
    expect(del.text).toBe('');
    for (const [method, path] of [
      ['GET', `/v1/prompts/${p.id}`],
      ['GET', `/v1/prompts/${encodeURIComponent(p.name)}`],
      ['GET', `/v1/prompts/${p.id}/versions`],
      ['GET', `/v1/prompts/${p.id}/versions/1`],
      ['DELETE', `/v1/prompts/${p.id}`],
    ] as const) {
      const res = await call(method, path, { key: org.key });
      expect(res.status, `${method} ${path}`).toBe(404);
      expect(res.body).toMatchObject({ error: { code: 'PROMPT_NOT_FOUND' } });
    }
    const [row] = await sql<
      { deletedAt: Date | null }[]
    >`SELECT deleted_at AS "deletedAt" FROM prompts WHERE id = ${p.id}`;
    expect(row?.deletedAt).toBeInstanceOf(Date);

    const again = await newPrompt(org.key, { name: p.name });
    expect(again.id).not.toBe(p.id);
  });
});

describe('listing prompts', () => {
  let org: TestOrg;
  const created: Prompt[] = [];

  beforeAll(async () => {
    org = await bigOrg();
    // 105 prompts, created one after another so "newest first" is well defined
    for (let batch = 0; batch < 105; batch += 15) {
      const made = [];
      for (let i = batch; i < Math.min(batch + 15, 105); i++) {
        made.push(
          await newPrompt(org.key, {
            name: `item-${String(i).padStart(3, '0')}`,
            tags: i % 10 === 0 ? ['tens', 'even'] : i % 2 === 0 ? ['even'] : ['odd'],
          }),
        );
      }
      created.push(...made);
    }
  });

  const list = (query: string) => call<ListBody<Prompt>>('GET', `/v1/prompts${query}`, { key: org.key });

  it('defaults to page 1 of 20, newest first, with the total', async () => {
    const res = await list('');
    expect(res.status).toBe(200);
    expect(res.body.meta).toEqual({ page: 1, per_page: 20, total: 105 });
    expect(res.body.data.map((p) => p.name)).toEqual(
      created
        .slice(-20)
        .reverse()
        .map((p) => p.name),
    );
  });

  it('per_page edges: 0 → 400, 1, 100, 101 → 400', async () => {
    const zero = await list('?per_page=0');
    expect(zero.status).toBe(400);
    expect(zero.body).toMatchObject({
      error: { code: 'VALIDATION_ERROR', details: [{ field: 'per_page' }] },
    });

    const one = await list('?per_page=1');
    expect(one.body.data).toHaveLength(1);
    expect(one.body.meta).toEqual({ page: 1, per_page: 1, total: 105 });
    expect(one.body.data[0]?.name).toBe('item-104');

    const hundred = await list('?per_page=100');
    expect(hundred.body.data).toHaveLength(100);
    expect(hundred.body.meta).toEqual({ page: 1, per_page: 100, total: 105 });

    const over = await list('?per_page=101');
    expect(over.status).toBe(400);
    expect(over.body).toMatchObject({
      error: {
        code: 'VALIDATION_ERROR',
        details: [{ field: 'per_page', message: 'per_page must be at most 100' }],
      },
    });

    for (const q of ['?page=0', '?page=-1', '?page=abc', '?per_page=1.5']) {
      expect((await list(q)).status, q).toBe(400);
    }
  });

  it('pages tile the list without gaps or repeats; past the end is an empty page with the total', async () => {
    const p1 = await list('?per_page=100&page=1');
    const p2 = await list('?per_page=100&page=2');
    expect(p2.body.data.map((p) => p.name)).toEqual([
      'item-004',
      'item-003',
      'item-002',
      'item-001',
      'item-000',
    ]);
    expect(new Set([...p1.body.data, ...p2.body.data].map((p) => p.id)).size).toBe(105);

    const past = await list('?per_page=100&page=3');
    expect(past.status).toBe(200);
    expect(past.body).toEqual({ data: [], meta: { page: 3, per_page: 100, total: 105 } });
    const far = await list('?page=9999');
    expect(far.body).toEqual({ data: [], meta: { page: 9999, per_page: 20, total: 105 } });
  });

  it('filters by tag (repeat for all of them) and searches names case-insensitively', async () => {
    const tens = await list('?tag=tens&per_page=100');
    expect(tens.body.meta.total).toBe(11);
    expect(tens.body.data.every((p) => p.tags.includes('tens'))).toBe(true);

    const both = await list('?tag=tens&tag=even&per_page=100');
    expect(both.body.meta.total).toBe(11);
    const none = await list('?tag=tens&tag=odd');
    expect(none.body).toEqual({ data: [], meta: { page: 1, per_page: 20, total: 0 } });

    const search = await list('?search=ITEM-10');
    expect(search.body.data.map((p) => p.name)).toEqual([
      'item-104',
      'item-103',
      'item-102',
      'item-101',
      'item-100',
    ]);
    // LIKE wildcards in the search are literal
    expect((await list('?search=item_0')).body.meta.total).toBe(0);
    expect((await list('?search=%25')).body.meta.total).toBe(0);
  });

  it('never lists another organization’s prompts', async () => {
    const other = await bigOrg();
    await newPrompt(other.key, { name: 'item-999' });
    const res = await list('?search=item-999');
    expect(res.body.meta.total).toBe(0);
  });
});

describe('ETag and conditional GETs', () => {
  let org: TestOrg;
  beforeAll(async () => {
    org = await bigOrg();
  });

  it('GET carries a strong ETag, revalidation Cache-Control and Vary: Authorization, x-api-key; If-None-Match → 304', async () => {
    const p = await newPrompt(org.key);
    const first = await call('GET', `/v1/prompts/${p.id}`, { key: org.key });
    const etag = first.headers.get('etag');
    expect(etag).toMatch(/^"[A-Za-z0-9_-]+"$/);
    expect(first.headers.get('cache-control')).toBe('private, max-age=0, must-revalidate');
    expect(first.headers.get('vary')).toBe('Authorization, x-api-key');

    // the same representation has the same tag, by id or by name
    const again = await call('GET', `/v1/prompts/${encodeURIComponent(p.name)}`, { key: org.key });
    expect(again.headers.get('etag')).toBe(etag);

    const notModified = await call('GET', `/v1/prompts/${p.id}`, {
      key: org.key,
      headers: { 'if-none-match': etag! },
    });
    expect(notModified.status).toBe(304);
    expect(notModified.text).toBe('');
    expect(notModified.headers.get('etag')).toBe(etag);
    expect(notModified.headers.get('cache-control')).toBe('private, max-age=0, must-revalidate');
    expect(notModified.headers.get('vary')).toBe('Authorization, x-api-key');

    const weak = await call('GET', `/v1/prompts/${p.id}`, {
      key: org.key,
      headers: { 'if-none-match': `W/${etag}` },
    });
    expect(weak.status).toBe(304);
    const listOfTags = await call('GET', `/v1/prompts/${p.id}`, {
      key: org.key,
      headers: { 'if-none-match': `"nope", ${etag}` },
    });
    expect(listOfTags.status).toBe(304);
    const stale = await call('GET', `/v1/prompts/${p.id}`, {
      key: org.key,
      headers: { 'if-none-match': '"nope"' },
    });
    expect(stale.status).toBe(200);

    // a change makes a new representation: the old tag no longer matches
    await call('PATCH', `/v1/prompts/${p.id}`, { key: org.key, body: { description: 'changed' } });
    const changed = await call('GET', `/v1/prompts/${p.id}`, {
      key: org.key,
      headers: { 'if-none-match': etag! },
    });
    expect(changed.status).toBe(200);
    expect(changed.headers.get('etag')).not.toBe(etag);
    expect(changed.body).toMatchObject({ data: { description: 'changed' } });
  });

  it('lists are conditional too, and a new prompt changes the list tag', async () => {
    const first = await call('GET', '/v1/prompts', { key: org.key });
    const etag = first.headers.get('etag')!;
    expect(
      (await call('GET', '/v1/prompts', { key: org.key, headers: { 'if-none-match': etag } })).status,
    ).toBe(304);
    await newPrompt(org.key);
    const after = await call('GET', '/v1/prompts', { key: org.key, headers: { 'if-none-match': etag } });
    expect(after.status).toBe(200);
  });

  it('errors are never cacheable and a matching tag does not turn an error into a 304', async () => {
    const p = await newPrompt(org.key);
    const ok = await call('GET', `/v1/prompts/${p.id}`, { key: org.key });
    await call('DELETE', `/v1/prompts/${p.id}`, { key: org.key });
    const gone = await call('GET', `/v1/prompts/${p.id}`, {
      key: org.key,
      headers: { 'if-none-match': ok.headers.get('etag')! },
    });
    expect(gone.status).toBe(404);
    expect(gone.headers.get('cache-control')).toBe('no-store');
    expect(gone.headers.get('etag')).toBeNull();
  });
});

describe('isolation, scopes and prompt-restricted keys', () => {
  let org: TestOrg;
  let other: TestOrg;
  let mine: Prompt;
  let second: Prompt;

  beforeAll(async () => {
    [org, other] = await Promise.all([bigOrg(), bigOrg()]);
    mine = await newPrompt(org.key);
    second = await newPrompt(org.key);
    await call('POST', `/v1/prompts/${mine.id}/versions`, {
      key: org.key,
      body: { template: 'Hi {{name}}', model: 'mock-1', labels: ['production'] },
    });
  });

  it("another organization's prompt is 404 PROMPT_NOT_FOUND on every route, by id and by name", async () => {
    const routes: [string, string, unknown?][] = [
      ['GET', `/v1/prompts/${mine.id}`],
      ['GET', `/v1/prompts/${encodeURIComponent(mine.name)}`],
      ['PATCH', `/v1/prompts/${mine.id}`, { description: 'hijack' }],
      ['DELETE', `/v1/prompts/${mine.id}`],
      ['GET', `/v1/prompts/${mine.id}/versions`],
      ['GET', `/v1/prompts/${mine.id}/versions/1`],
      ['POST', `/v1/prompts/${mine.id}/versions`, { template: 'x', model: 'mock-1' }],
      ['GET', `/v1/prompts/${mine.id}/labels`],
      ['PUT', `/v1/prompts/${mine.id}/labels/production`, { version: 1 }],
      ['POST', `/v1/prompts/${mine.id}/render`, { variables: { name: 'x' } }],
    ];
    for (const [method, path, body] of routes) {
      const res = await call(method, path, { key: other.key, body });
      expect(res.status, `${method} ${path}`).toBe(404);
      expect(res.body, `${method} ${path}`).toMatchObject({ error: { code: 'PROMPT_NOT_FOUND' } });
    }
    // and nothing changed
    const still = await call<{ data: Prompt }>('GET', `/v1/prompts/${mine.id}`, { key: org.key });
    expect(still.body.data).toMatchObject({ description: '', latestVersion: 1 });
  });

  it('prompts:read allows reads and render, not writes; other scopes allow neither', async () => {
    const reader = await keyWith(org, ['prompts:read']);
    expect((await call('GET', '/v1/prompts', { key: reader })).status).toBe(200);
    expect((await call('GET', `/v1/prompts/${mine.id}/versions/1`, { key: reader })).status).toBe(200);
    expect(
      (
        await call('POST', `/v1/prompts/${mine.id}/render`, {
          key: reader,
          body: { variables: { name: 'a' } },
        })
      ).status,
    ).toBe(200);
    const write = await call('POST', '/v1/prompts', { key: reader, body: { name: unique('p') } });
    expect(write.status).toBe(403);
    expect(write.body).toEqual({
      error: { code: 'FORBIDDEN', message: "This API key lacks the 'prompts:write' scope" },
    });
    expect(
      (await call('PUT', `/v1/prompts/${mine.id}/labels/x`, { key: reader, body: { version: 1 } })).status,
    ).toBe(403);

    const runner = await keyWith(org, ['runs:execute']);
    const read = await call('GET', `/v1/prompts/${mine.id}`, { key: runner });
    expect(read.status).toBe(403);
    expect(read.body).toEqual({
      error: { code: 'FORBIDDEN', message: "This API key lacks the 'prompts:read' scope" },
    });

    const writer = await keyWith(org, ['prompts:write']);
    expect((await call('POST', '/v1/prompts', { key: writer, body: { name: unique('p') } })).status).toBe(
      201,
    );
  });

  it('a key restricted to some prompts lists only those, gets 403 on the others, and cannot create', async () => {
    const restricted = await keyWith(org, ['prompts:read', 'prompts:write'], [mine.id]);
    const list = await call<ListBody<Prompt>>('GET', '/v1/prompts', { key: restricted });
    expect(list.body.data.map((p) => p.id)).toEqual([mine.id]);
    expect(list.body.meta.total).toBe(1);

    expect((await call('GET', `/v1/prompts/${mine.name}`, { key: restricted })).status).toBe(200);
    const denied = await call('GET', `/v1/prompts/${second.id}`, { key: restricted });
    expect(denied.status).toBe(403);
    expect(denied.body).toEqual({
      error: { code: 'FORBIDDEN', message: 'This API key is not allowed to use this prompt' },
    });
    expect((await call('GET', `/v1/prompts/${second.id}/versions`, { key: restricted })).status).toBe(403);
    expect((await call('DELETE', `/v1/prompts/${second.id}`, { key: restricted })).status).toBe(403);

    const create = await call('POST', '/v1/prompts', { key: restricted, body: { name: unique('p') } });
    expect(create.status).toBe(403);
    expect(create.body).toMatchObject({ error: { code: 'FORBIDDEN' } });
    // unknown names stay 404 for a restricted key
    expect((await call('GET', '/v1/prompts/nothing-here', { key: restricted })).status).toBe(404);
  });
});

describe('OpenAPI', () => {
  it('documents every prompt, version, label, render and template route', async () => {
    const doc = await call<{ paths: Record<string, Record<string, unknown>> }>('GET', '/openapi.json');
    const expected: Record<string, string[]> = {
      '/v1/prompts': ['get', 'post'],
      '/v1/prompts/{idOrName}': ['delete', 'get', 'patch'],
      '/v1/prompts/{idOrName}/versions': ['get', 'post'],
      '/v1/prompts/{idOrName}/versions/{n}': ['get'],
      '/v1/prompts/{idOrName}/labels': ['get'],
      '/v1/prompts/{idOrName}/labels/{label}': ['delete', 'put'],
      '/v1/prompts/{idOrName}/render': ['post'],
      '/v1/templates': ['get'],
      '/v1/templates/{id}': ['get'],
      '/v1/templates/{id}/use': ['post'],
    };
    for (const [path, methods] of Object.entries(expected)) {
      expect(Object.keys(doc.body.paths[path] ?? {}).sort(), path).toEqual(methods);
    }
  });
});
