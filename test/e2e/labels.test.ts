// Labels: PUT …/labels/:label moves a label atomically; GET lists them; DELETE removes one; runs and
// renders without a version or label use `production`.
import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { call, createOrg, type TestOrg, unique } from './helpers.ts';

const sql = postgres(inject('databaseUrl'), { max: 2, onnotice: () => {} });
afterAll(() => sql.end());

interface LabelMove {
  label: string;
  version: number;
  versionId: string;
}

let org: TestOrg;
beforeAll(async () => {
  org = await createOrg({ plan: 'enterprise', limits: { perMinute: 100_000, perDay: 10_000_000 } });
});

/** A prompt with `count` text versions "v1 {{x|}}", "v2 {{x|}}"…, none labelled. */
async function promptWithVersions(count: number, marker = ''): Promise<{ id: string; name: string }> {
  const name = unique('labels');
  const p = await call<{ data: { id: string } }>('POST', '/v1/prompts', { key: org.key, body: { name } });
  for (let i = 1; i <= count; i++) {
    await call('POST', `/v1/prompts/${name}/versions`, {
      key: org.key,
      body: { model: 'mock-1', template: `${marker}v${i} {{x|}}` },
    });
  }
  return { id: p.body.data.id, name };
}

const putLabel = (prompt: string, label: string, body: unknown) =>
  call<{ data: LabelMove }>('PUT', `/v1/prompts/${prompt}/labels/${label}`, { key: org.key, body });

describe('moving labels', () => {
  it('PUT points production at a version; the prompt and the version show it', async () => {
    const p = await promptWithVersions(2);
    const res = await putLabel(p.name, 'production', { version: 1 });
    expect(res.status).toBe(200);
    expect(res.body.data).toEqual({
      label: 'production',
      version: 1,
      versionId: expect.stringMatching(/^ver_/),
    });

    const prompt = await call<{ data: { labels: Record<string, number> } }>('GET', `/v1/prompts/${p.id}`, {
      key: org.key,
    });
    expect(prompt.body.data.labels).toEqual({ production: 1 });
    const v1 = await call<{ data: { labels: string[]; id: string } }>(
      'GET',
      `/v1/prompts/${p.id}/versions/1`,
      {
        key: org.key,
      },
    );
    expect(v1.body.data.labels).toEqual(['production']);
    expect(v1.body.data.id).toBe(res.body.data.versionId);
  });

  it('moving a label re-points it (one row per label), and render follows it', async () => {
    const p = await promptWithVersions(3);
    await putLabel(p.id, 'production', { version: 1 });
    await putLabel(p.id, 'staging', { version: 3 });
    const moved = await putLabel(p.id, 'production', { version: 2 });
    expect(moved.body.data.version).toBe(2);

    const rows = await sql<{ label: string; version: number }[]>`
      SELECT l.label, v.version FROM prompt_labels l JOIN prompt_versions v ON v.id = l.version_id
      WHERE l.prompt_id = ${p.id} ORDER BY l.label`;
    expect(rows).toEqual([
      { label: 'production', version: 2 },
      { label: 'staging', version: 3 },
    ]);
    const v1 = await call<{ data: { labels: string[] } }>('GET', `/v1/prompts/${p.id}/versions/1`, {
      key: org.key,
    });
    expect(v1.body.data.labels).toEqual([]);

    const rendered = await call<{ data: { version: number; content: string } }>(
      'POST',
      `/v1/prompts/${p.id}/render`,
      {
        key: org.key,
        body: {},
      },
    );
    expect(rendered.body.data).toMatchObject({ version: 2, content: 'v2 ' });
  });

  it('any well-formed label name works; bad names are 400 VALIDATION_ERROR on label', async () => {
    const p = await promptWithVersions(1);
    for (const label of ['canary', 'eu-west_2', '2025', 'a'.repeat(50)]) {
      expect((await putLabel(p.id, label, { version: 1 })).status, label).toBe(200);
    }
    for (const label of ['Production', '-x', '_x', 'a%20b', 'a'.repeat(51), '%C3%A9t%C3%A9']) {
      const res = await putLabel(p.id, label, { version: 1 });
      expect(res.status, label).toBe(400);
      expect(res.body, label).toMatchObject({
        error: {
          code: 'VALIDATION_ERROR',
          details: [{ field: 'label', message: expect.stringContaining('label') }],
        },
      });
    }
  });

  it('validates the body; an unknown version is 404 VERSION_NOT_FOUND and moves nothing', async () => {
    const p = await promptWithVersions(1);
    await putLabel(p.id, 'production', { version: 1 });
    for (const body of [
      {},
      { version: 0 },
      { version: '1' },
      { version: 1.5 },
      { version: 1, extra: true },
    ]) {
      const res = await putLabel(p.id, 'production', body);
      expect(res.status, JSON.stringify(body)).toBe(400);
      expect(res.body).toMatchObject({ error: { code: 'VALIDATION_ERROR' } });
    }
    const missing = await putLabel(p.id, 'production', { version: 7 });
    expect(missing.status).toBe(404);
    expect(missing.body).toEqual({
      error: { code: 'VERSION_NOT_FOUND', message: `Prompt '${p.id}' has no version 7` },
    });
    const prompt = await call<{ data: { labels: Record<string, number> } }>('GET', `/v1/prompts/${p.id}`, {
      key: org.key,
    });
    expect(prompt.body.data.labels).toEqual({ production: 1 });
  });

  it('the move is atomic: renders racing 20 flips always find production, at v1 or v2', async () => {
    const p = await promptWithVersions(2);
    await putLabel(p.id, 'production', { version: 1 });
    const flips = (async () => {
      for (let i = 0; i < 20; i++) await putLabel(p.id, 'production', { version: (i % 2) + 1 });
    })();
    const renders = Promise.all(
      Array.from({ length: 3 }, async () => {
        const seen: number[] = [];
        for (let i = 0; i < 20; i++) {
          const res = await call<{ data: { version: number } }>('POST', `/v1/prompts/${p.id}/render`, {
            key: org.key,
            body: {},
          });
          expect(res.status).toBe(200);
          seen.push(res.body.data.version);
        }
        return seen;
      }),
    );
    const [, seen] = await Promise.all([flips, renders]);
    for (const v of seen.flat()) expect([1, 2]).toContain(v);
    const rows = await sql`SELECT 1 FROM prompt_labels WHERE prompt_id = ${p.id} AND label = 'production'`;
    expect(rows.length).toBe(1);
  });
});

describe('listing and removing labels', () => {
  it('GET …/labels lists labels by name with the envelope, ETag and 304', async () => {
    const p = await promptWithVersions(2);
    await putLabel(p.id, 'staging', { version: 2 });
    await putLabel(p.id, 'production', { version: 1 });
    const res = await call<{ data: (LabelMove & { updatedAt: string })[]; meta: Record<string, number> }>(
      'GET',
      `/v1/prompts/${p.name}/labels`,
      { key: org.key },
    );
    expect(res.status).toBe(200);
    expect(res.body.data.map(({ label, version }) => ({ label, version }))).toEqual([
      { label: 'production', version: 1 },
      { label: 'staging', version: 2 },
    ]);
    expect(res.body.meta).toEqual({ page: 1, per_page: 20, total: 2 });
    const page2 = await call('GET', `/v1/prompts/${p.name}/labels?per_page=1&page=2`, { key: org.key });
    expect(page2.body).toMatchObject({
      data: [{ label: 'staging' }],
      meta: { page: 2, per_page: 1, total: 2 },
    });

    const etag = res.headers.get('etag')!;
    expect(res.headers.get('cache-control')).toBe('private, max-age=0, must-revalidate');
    const cond = await call('GET', `/v1/prompts/${p.name}/labels`, {
      key: org.key,
      headers: { 'if-none-match': etag },
    });
    expect(cond.status).toBe(304);
    await putLabel(p.id, 'staging', { version: 1 });
    const changed = await call('GET', `/v1/prompts/${p.name}/labels`, {
      key: org.key,
      headers: { 'if-none-match': etag },
    });
    expect(changed.status).toBe(200);
  });

  it('DELETE removes a label (204), a second time is 404 LABEL_NOT_FOUND', async () => {
    const p = await promptWithVersions(1);
    await putLabel(p.id, 'production', { version: 1 });
    const del = await call('DELETE', `/v1/prompts/${p.id}/labels/production`, { key: org.key });
    expect(del.status).toBe(204);
    const again = await call('DELETE', `/v1/prompts/${p.id}/labels/production`, { key: org.key });
    expect(again.status).toBe(404);
    expect(again.body).toEqual({
      error: { code: 'LABEL_NOT_FOUND', message: `Prompt '${p.id}' has no label 'production'` },
    });
    // the version itself is untouched
    expect((await call('GET', `/v1/prompts/${p.id}/versions/1`, { key: org.key })).status).toBe(200);
  });
});

describe('runs use production unless told otherwise', () => {
  it('a sync run without version or label runs the production version, and follows the label', async () => {
    const marker = unique('label-run');
    const p = await promptWithVersions(2, `${marker} `);
    await putLabel(p.id, 'production', { version: 1 });
    const run = () =>
      call<{ success: boolean; output: string; promptVersion: number }>('POST', '/api/v1/run', {
        key: org.key,
        body: { promptName: p.name, variables: {} },
      });
    const first = await run();
    expect(first.status).toBe(200);
    expect(first.body).toMatchObject({
      success: true,
      promptVersion: 1,
      output: expect.stringContaining(`${marker} v1`),
    });
    await putLabel(p.id, 'production', { version: 2 });
    const second = await run();
    expect(second.body).toMatchObject({
      success: true,
      promptVersion: 2,
      output: expect.stringContaining(`${marker} v2`),
    });
  });

  it("no production label → 404 with the seed's message", async () => {
    const p = await promptWithVersions(1);
    const res = await call('POST', '/api/v1/run', {
      key: org.key,
      body: { promptName: p.name, variables: {} },
    });
    expect(res.status).toBe(404);
    expect(res.body).toMatchObject({
      success: false,
      error: `Prompt '${p.name}' not found or has no PRODUCTION version`,
      code: 'PROMPT_NOT_FOUND',
    });
  });
});
