// Webhook endpoints: create (secret shown once), list, read, change, delete, rotate; validation;
// scope; tenant isolation on every webhook route.
import { beforeAll, describe, expect, it } from 'vitest';
import { call, createOrg, type TestOrg, unique } from './helpers.ts';
import { createKey } from './limits-support.ts';
import { createEndpoint } from './webhook-support.ts';

let a: TestOrg;
let b: TestOrg;
const url = 'http://127.0.0.1:9/hooks';

beforeAll(async () => {
  [a, b] = await Promise.all([createOrg({ plan: 'team' }), createOrg({ plan: 'team' })]);
});

describe('webhook endpoints', () => {
  it('creates an endpoint with a whsec_ secret shown only at creation, and lists, reads, changes and deletes it', async () => {
    const created = await call<{ data: Record<string, unknown> }>('POST', '/v1/webhooks', {
      key: a.key,
      body: { url, events: ['prompt.executed', 'prompt.failed', 'prompt.executed'], description: 'ci' },
    });
    expect(created.status).toBe(201);
    expect(created.headers.get('cache-control')).toBe('no-store');
    const ep = created.body.data;
    expect(ep).toMatchObject({
      url,
      events: ['prompt.executed', 'prompt.failed'],
      description: 'ci',
      enabled: true,
      disabledReason: null,
    });
    expect(ep.id).toMatch(/^whk_/);
    expect(ep.secret).toMatch(/^whsec_[A-Za-z0-9+/]{32}$/);
    expect(created.headers.get('location')).toBe(`/v1/webhooks/${ep.id}`);

    const read = await call<{ data: Record<string, unknown> }>('GET', `/v1/webhooks/${ep.id}`, {
      key: a.key,
    });
    expect(read.status).toBe(200);
    expect(read.body.data).not.toHaveProperty('secret');
    expect(read.text).not.toContain(String(ep.secret));
    const list = await call<{ data: { id: string }[]; meta: { total: number } }>('GET', '/v1/webhooks', {
      key: a.key,
    });
    expect(list.body.data.map((e) => e.id)).toContain(ep.id);
    expect(list.text).not.toContain('whsec_');

    const patched = await call<{ data: Record<string, unknown> }>('PATCH', `/v1/webhooks/${ep.id}`, {
      key: a.key,
      body: { enabled: false, events: ['team.member_added'] },
    });
    expect(patched.status).toBe(200);
    expect(patched.body.data).toMatchObject({ enabled: false, events: ['team.member_added'], url });

    const deleted = await call('DELETE', `/v1/webhooks/${ep.id}`, { key: a.key });
    expect(deleted.status).toBe(200);
    expect((await call('GET', `/v1/webhooks/${ep.id}`, { key: a.key })).status).toBe(404);
    expect((await call('DELETE', `/v1/webhooks/${ep.id}`, { key: a.key })).status).toBe(404);
  });

  it('rotates the secret: a new whsec_, the old one signing for 24 h more', async () => {
    const ep = await createEndpoint(a.key, { url, events: ['prompt.executed'] });
    const before = Date.now();
    const rotated = await call<{ data: { secret: string; previousSecretExpiresAt: string } }>(
      'POST',
      `/v1/webhooks/${ep.id}/rotate-secret`,
      { key: a.key },
    );
    expect(rotated.status).toBe(200);
    expect(rotated.headers.get('cache-control')).toBe('no-store');
    expect(rotated.body.data.secret).toMatch(/^whsec_/);
    expect(rotated.body.data.secret).not.toBe(ep.secret);
    const grace = Date.parse(rotated.body.data.previousSecretExpiresAt) - before;
    expect(grace).toBeGreaterThan(86_390_000);
    expect(grace).toBeLessThan(86_410_000);
  });

  it.each([
    [{ url, events: ['prompt.exploded'] }, 'events.0'],
    [{ url, events: [] }, 'events'],
    [{ url: 'ftp://example.com/x', events: ['prompt.executed'] }, 'url'],
    [{ url: 'not a url', events: ['prompt.executed'] }, 'url'],
    [{ events: ['prompt.executed'] }, 'url'],
    [{ url, events: ['prompt.executed'], secret: 'whsec_mine' }, ''],
  ])('refuses %j with 400 VALIDATION_ERROR naming the field', async (body, field) => {
    const res = await call<{ error: { code: string; details: { field: string }[] } }>(
      'POST',
      '/v1/webhooks',
      {
        key: a.key,
        body,
      },
    );
    expect(res.status).toBe(400);
    expect(res.body.error.code).toBe('VALIDATION_ERROR');
    if (field) expect(res.body.error.details.map((d) => d.field)).toContain(field);
  });

  it('needs the webhooks:write scope', async () => {
    const reader = (await createKey(a.key, { name: unique('k'), scopes: ['prompts:read'] })).key;
    const res = await call<{ error: { code: string } }>('GET', '/v1/webhooks', { key: reader });
    expect(res.status).toBe(403);
    expect(res.body.error.code).toBe('FORBIDDEN');
    const writer = (await createKey(a.key, { name: unique('k'), scopes: ['webhooks:write'] })).key;
    expect((await call('GET', '/v1/webhooks', { key: writer })).status).toBe(200);
  });

  it("answers 404 for another organization's endpoint and messages on every webhook route", async () => {
    const ep = await createEndpoint(a.key, { url, events: ['prompt.executed'] });
    const test = await call<{ data: { id: string } }>('POST', `/v1/webhooks/${ep.id}/test`, { key: a.key });
    expect(test.status).toBe(202);
    const msgId = test.body.data.id;
    expect(msgId).toMatch(/^msg_/);
    const attempts: [string, string, unknown?][] = [
      ['GET', `/v1/webhooks/${ep.id}`],
      ['PATCH', `/v1/webhooks/${ep.id}`, { enabled: false }],
      ['PATCH', `/v1/webhooks/${ep.id}`, { url: 'http://127.0.0.1:1/stolen' }],
      ['DELETE', `/v1/webhooks/${ep.id}`],
      ['POST', `/v1/webhooks/${ep.id}/rotate-secret`],
      ['POST', `/v1/webhooks/${ep.id}/test`],
      ['GET', `/v1/webhooks/${ep.id}/deliveries`],
    ];
    for (const [method, path, body] of attempts) {
      const res = await call<{ error: { code: string } }>(method, path, { key: b.key, body });
      expect(res.status, `${method} ${path}`).toBe(404);
      expect(res.body.error.code).toBe('WEBHOOK_NOT_FOUND');
    }
    const retry = await call<{ error: { code: string } }>('POST', `/v1/webhooks/deliveries/${msgId}/retry`, {
      key: b.key,
    });
    expect(retry.status).toBe(404);
    expect(retry.body.error.code).toBe('MESSAGE_NOT_FOUND');
    const listB = await call<{ data: unknown[] }>('GET', '/v1/webhooks', { key: b.key });
    expect(listB.text).not.toContain(ep.id);
    // nothing of it changed
    const still = await call<{ data: { enabled: boolean; url: string } }>('GET', `/v1/webhooks/${ep.id}`, {
      key: a.key,
    });
    expect(still.body.data).toMatchObject({ enabled: true, url });
    const secretA = await call<{ data: { secret: string } }>('GET', '/v1/webhooks/default-secret', {
      key: a.key,
    });
    const secretB = await call<{ data: { secret: string } }>('GET', '/v1/webhooks/default-secret', {
      key: b.key,
    });
    expect(secretA.body.data.secret).toMatch(/^whsec_/);
    expect(secretA.body.data.secret).not.toBe(secretB.body.data.secret);
    const again = await call<{ data: { secret: string } }>('GET', '/v1/webhooks/default-secret', {
      key: a.key,
    });
    expect(again.body.data.secret).toBe(secretA.body.data.secret);
  });
});
