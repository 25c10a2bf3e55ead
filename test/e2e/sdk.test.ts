// The SDK against the real stack: every resource method once, and its typed errors.
import { beforeAll, describe, expect, it } from 'vitest';
import {
  AuthenticationError,
  BadRequestError,
  ConflictError,
  NotFoundError,
  PermissionDeniedError,
  type Promptmill,
} from '../../sdk/src/index.ts';
import { createOrg, type TestOrg, unique } from './helpers.ts';
import { sdk } from './sdk-support.ts';

let org: TestOrg;
let pm: Promptmill;

beforeAll(async () => {
  org = await createOrg({ plan: 'enterprise' });
  pm = sdk(org.key);
});

describe('SDK: prompts, versions, labels, render', () => {
  it('creates, reads, lists, updates and deletes a prompt with versions and labels', async () => {
    const name = unique('sdk-prompt');
    const prompt = await pm.prompts.create({ name, description: 'd', tags: ['sdk'] });
    expect(prompt).toMatchObject({
      id: expect.stringMatching(/^pmt_/),
      name,
      latestVersion: 0,
      tags: ['sdk'],
    });

    const v1 = await pm.prompts.versions.create(name, {
      messages: [
        { role: 'system', content: 'You help {{who|everyone}}.' },
        { role: 'user', content: 'Ticket: {{ticket}}' },
      ],
      model: 'mock-1',
      params: { temperature: 0.2 },
      labels: ['production'],
    });
    expect(v1).toMatchObject({
      version: 1,
      type: 'chat',
      labels: ['production'],
      params: { temperature: 0.2 },
    });
    expect(v1.variables.map((v) => v.name).sort()).toEqual(['ticket', 'who']);
    const v2 = await pm.prompts.versions.create(prompt.id, { template: 'Hi {{ticket}}', model: 'mock-1' });
    expect(v2.version).toBe(2);

    expect((await pm.prompts.get(name)).latestVersion).toBe(2);
    expect((await pm.prompts.versions.get(name, 1)).id).toBe(v1.id);
    const versions = await pm.prompts.versions.list(name, { perPage: 1 });
    expect(versions.meta).toMatchObject({ total: 2, per_page: 1 });
    expect(versions.data).toHaveLength(1);

    const label = await pm.prompts.labels.set(name, 'staging', 2);
    expect(label).toMatchObject({ label: 'staging', version: 2, versionId: v2.id });
    expect((await pm.prompts.labels.list(name)).map((l) => `${l.label}=${l.version}`).sort()).toEqual([
      'production=1',
      'staging=2',
    ]);
    await pm.prompts.labels.delete(name, 'staging');
    expect((await pm.prompts.get(name)).labels).toEqual({ production: 1 });

    const rendered = await pm.prompts.render(name, { label: 'production', variables: { ticket: 'T-1' } });
    expect(rendered.messages).toEqual([
      { role: 'system', content: 'You help everyone.' },
      { role: 'user', content: 'Ticket: T-1' },
    ]);
    expect((await pm.prompts.render(name, { version: 2, variables: { ticket: 'x' } })).content).toBe('Hi x');

    const renamed = await pm.prompts.update(name, { name: `${name}-2`, tags: [] });
    expect(renamed).toMatchObject({ name: `${name}-2`, tags: [] });
    const listed = [];
    for await (const p of pm.prompts.listAll({ search: name })) listed.push(p.id);
    expect(listed).toEqual([prompt.id]);
    await pm.prompts.delete(prompt.id);
    await expect(pm.prompts.get(prompt.id)).rejects.toBeInstanceOf(NotFoundError);
  });

  it('throws typed errors with code, status, requestId and details', async () => {
    const missing = await pm.prompts.get('no-such-prompt').catch((e: unknown) => e);
    expect(missing).toBeInstanceOf(NotFoundError);
    expect(missing).toMatchObject({ status: 404, code: 'PROMPT_NOT_FOUND', requestId: expect.any(String) });

    const name = unique('dup');
    await pm.prompts.create({ name });
    await expect(pm.prompts.create({ name })).rejects.toMatchObject({ status: 409, code: 'CONFLICT' });
    await expect(pm.prompts.create({ name })).rejects.toBeInstanceOf(ConflictError);

    const bad = await pm.prompts.versions
      .create(name, { template: 'x', model: 'mock-1', params: { temperature: 9 } })
      .catch((e: unknown) => e);
    expect(bad).toBeInstanceOf(BadRequestError);
    expect(bad).toMatchObject({
      code: 'VALIDATION_ERROR',
      details: [expect.objectContaining({ field: 'params.temperature' })],
    });
    const tpl = await pm.prompts.versions
      .create(name, { template: '{{#if x}}', model: 'mock-1' })
      .catch((e: unknown) => e);
    expect(tpl).toMatchObject({ status: 400, code: 'INVALID_TEMPLATE' });

    const anonymous = sdk('pm_live_' + '0'.repeat(64), { maxRetries: 0 });
    const denied = await anonymous.me().catch((e: unknown) => e);
    expect(denied).toBeInstanceOf(AuthenticationError);
    expect(denied).toMatchObject({
      status: 401,
      code: 'UNAUTHORIZED',
      message: 'UNAUTHORIZED: Invalid API key',
    });
  });
});

describe('SDK: templates, me, keys, members', () => {
  it('lists, reads and uses a template', async () => {
    const page = await pm.templates.list({ perPage: 2 });
    expect(page.data.length).toBeGreaterThan(0);
    const first = page.data[0]!;
    expect(await pm.templates.get(first.id)).toEqual(first);
    const name = unique('from-template');
    const used = await pm.templates.use(first.id, { name, model: 'mock-1' });
    expect(used.prompt.name).toBe(name);
    expect(used.version).toMatchObject({ version: 1, labels: ['production'] });
  });

  it('reads the calling key and manages keys: create, get, list, update, rotate, revoke', async () => {
    const me = await pm.me();
    expect(me.organization.id).toBe(org.orgId);
    expect(me.key.id).toBe(org.keyId);

    const created = await pm.keys.create({ name: 'sdk key', scopes: ['prompts:read'], expiresIn: '30d' });
    expect(created.key).toMatch(/^pm_live_[0-9a-f]{64}$/);
    expect(created).toMatchObject({ name: 'sdk key', scopes: ['prompts:read'], status: 'active' });
    expect((await pm.keys.get(created.id)).summary).toBe(created.summary);
    expect((await pm.keys.list({ perPage: 100 })).data.map((k) => k.id)).toContain(created.id);
    expect(await pm.keys.update(created.id, { name: 'renamed' })).toMatchObject({ name: 'renamed' });

    const child = sdk(created.key);
    await expect(child.prompts.list()).resolves.toMatchObject({ meta: { page: 1 } });
    await expect(child.runs.list()).rejects.toBeInstanceOf(PermissionDeniedError);

    const rotated = await pm.keys.rotate(created.id, { gracePeriodSeconds: 0 });
    expect(rotated.id).toBe(created.id);
    expect(rotated.key).not.toBe(created.key);
    await expect(sdk(created.key, { maxRetries: 0 }).prompts.list()).rejects.toMatchObject({ status: 401 });
    await expect(sdk(rotated.key).prompts.list()).resolves.toBeDefined();

    expect(await pm.keys.revoke(created.id)).toMatchObject({ status: 'revoked' });
    await expect(sdk(rotated.key, { maxRetries: 0 }).prompts.list()).rejects.toMatchObject({
      code: 'UNAUTHORIZED',
      message: 'UNAUTHORIZED: API key has been revoked',
    });
  });

  it('manages members: add, get, list, suspend, unsuspend, remove', async () => {
    const email = `${unique('m')}@example.test`;
    const member = await pm.members.add({ email, name: 'Ada', role: 'member' });
    expect(member).toMatchObject({ email, role: 'member', status: 'active' });
    expect((await pm.members.get(member.id)).email).toBe(email);
    expect((await pm.members.list()).data.map((m) => m.id)).toContain(member.id);
    expect(await pm.members.suspend(member.id)).toMatchObject({ status: 'suspended' });
    expect(await pm.members.unsuspend(member.id)).toMatchObject({ status: 'active' });
    await pm.members.remove(member.id);
    await expect(pm.members.get(member.id)).rejects.toBeInstanceOf(NotFoundError);
  });
});

describe('SDK: as a browser calls it (Origin, a key restricted to allowed origins)', () => {
  it('works from an allowed origin, which can read the headers the SDK needs; another origin gets 403', async () => {
    const browserKey = await pm.keys.create({
      name: 'web app',
      scopes: ['runs:execute', 'prompts:read'],
      allowedOrigins: ['https://app.example.com'],
    });
    const name = unique('web');
    await pm.prompts.create({ name });
    await pm.prompts.versions.create(name, {
      template: 'Hi {{who}}',
      model: 'mock-1',
      labels: ['production'],
    });

    const seen: Headers[] = [];
    const fromPage = sdk(browserKey.key, {
      defaultHeaders: { origin: 'https://app.example.com' },
      fetch: async (url, init) => {
        const res = await fetch(url, init);
        seen.push(res.headers);
        return res;
      },
    });
    expect((await fromPage.run(name, { who: 'web' })).output).toBe('Echo: Hi web');
    const stream = await fromPage.stream(name, { who: 'stream' });
    expect((await stream.final()).output).toBe('Echo: Hi stream');
    for (const h of seen) {
      expect(h.get('access-control-allow-origin')).toBe('https://app.example.com');
      const exposed = (h.get('access-control-expose-headers') ?? '').toLowerCase();
      for (const name of [
        'x-request-id',
        'retry-after',
        'x-ratelimit-reset',
        'x-run-id',
        'idempotent-replayed',
      ]) {
        expect(exposed).toContain(name);
      }
    }

    const elsewhere = sdk(browserKey.key, {
      defaultHeaders: { origin: 'https://evil.example.com' },
      maxRetries: 0,
    });
    const refused = await elsewhere.run(name, { who: 'x' }).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(PermissionDeniedError);
    expect(refused).toMatchObject({ status: 403, code: 'ORIGIN_NOT_ALLOWED' });
  });
});
