import { beforeAll, describe, expect, it } from 'vitest';
import { call, createOrg, createPrompt, mock, type TestOrg, unique } from './helpers.ts';
import { adminPatchOrg, createKey, errorOf, testSql } from './limits-support.ts';

const sql = testSql();

const unauthorized = (message: string) => ({ error: { code: 'UNAUTHORIZED', message } });

describe('401: every message of API.md, in its order', () => {
  let org: TestOrg;
  beforeAll(async () => {
    org = await createOrg();
  });

  it('Missing or malformed Authorization header', async () => {
    const variants: Record<string, string>[] = [
      {},
      { authorization: `Basic ${Buffer.from('a:b').toString('base64')}` },
      { authorization: 'Bearer' },
      { authorization: `Bearer ${org.key} extra` },
      { authorization: `Token ${org.key}` },
      { 'x-api-key': '' },
    ];
    for (const headers of variants) {
      const res = await call('GET', '/v1/me', { headers });
      expect(res.status, JSON.stringify(headers)).toBe(401);
      expect(res.body).toEqual(unauthorized('Missing or malformed Authorization header'));
    }
  });

  it('Invalid API key format', async () => {
    for (const bad of [
      'pm_live_abc',
      `pk_live_${'a'.repeat(64)}`,
      `pm_live_${'A'.repeat(64)}`,
      `pm_live_${'a'.repeat(65)}`,
    ]) {
      const res = await call('GET', '/v1/me', { headers: { authorization: `Bearer ${bad}` } });
      expect(res.status).toBe(401);
      expect(res.body).toEqual(unauthorized('Invalid API key format'));
    }
    const viaHeader = await call('GET', '/v1/me', { headers: { 'x-api-key': 'nope' } });
    expect(viaHeader.body).toEqual(unauthorized('Invalid API key format'));
  });

  it('Invalid API key (well-formed, unknown)', async () => {
    const res = await call('GET', '/v1/me', { key: `pm_live_${'0'.repeat(64)}` });
    expect(res.status).toBe(401);
    expect(res.body).toEqual(unauthorized('Invalid API key'));
  });

  it('API key has been revoked, checked before expiry and suspension', async () => {
    const k = await createKey(org.key, { expiresIn: new Date(Date.now() + 1500).toISOString() });
    const member = await call<{ data: { id: string } }>('POST', '/v1/members', {
      key: org.key,
      body: { email: `${unique('m')}@example.com` },
    });
    const owned = await createKey(org.key, { ownerId: member.body.data.id });
    expect((await call('DELETE', `/v1/keys/${k.id}`, { key: org.key })).status).toBe(200);
    expect((await call('DELETE', `/v1/keys/${owned.id}`, { key: org.key })).status).toBe(200);
    await call('POST', `/v1/members/${member.body.data.id}/suspend`, { key: org.key });
    await new Promise((r) => setTimeout(r, 1600));
    // revoked + expired → revoked
    expect((await call('GET', '/v1/me', { key: k.key })).body).toEqual(
      unauthorized('API key has been revoked'),
    );
    // revoked + owner suspended → revoked
    expect((await call('GET', '/v1/me', { key: owned.key })).body).toEqual(
      unauthorized('API key has been revoked'),
    );
  });

  it('API key has expired, checked before owner suspension', async () => {
    const member = await call<{ data: { id: string } }>('POST', '/v1/members', {
      key: org.key,
      body: { email: `${unique('m')}@example.com` },
    });
    const k = await createKey(org.key, {
      ownerId: member.body.data.id,
      expiresIn: new Date(Date.now() + 1200).toISOString(),
    });
    expect((await call('GET', '/v1/me', { key: k.key })).status).toBe(200);
    await call('POST', `/v1/members/${member.body.data.id}/suspend`, { key: org.key });
    await new Promise((r) => setTimeout(r, 1300));
    const res = await call('GET', '/v1/me', { key: k.key });
    expect(res.status).toBe(401);
    expect(res.body).toEqual(unauthorized('API key has expired'));
  });

  it('API key owner is suspended', async () => {
    const member = await call<{ data: { id: string } }>('POST', '/v1/members', {
      key: org.key,
      body: { email: `${unique('m')}@example.com` },
    });
    const k = await createKey(org.key, { ownerId: member.body.data.id });
    await call('POST', `/v1/members/${member.body.data.id}/suspend`, { key: org.key });
    const res = await call('GET', '/v1/me', { headers: { 'x-api-key': k.key } });
    expect(res.status).toBe(401);
    expect(res.body).toEqual(unauthorized('API key owner is suspended'));
  });

  it('the seed routes keep the seed error shape for 401', async () => {
    const res = await call('POST', '/api/v1/run', { body: { promptName: 'x' } });
    expect(res.status).toBe(401);
    expect(res.body).toEqual({
      success: false,
      error: 'Missing or malformed Authorization header',
      code: 'UNAUTHORIZED',
    });
  });

  it('accepts Authorization: Bearer and x-api-key alike; Authorization wins when both are sent', async () => {
    expect((await call('GET', '/v1/me', { key: org.key })).status).toBe(200);
    expect((await call('GET', '/v1/me', { headers: { 'x-api-key': org.key } })).status).toBe(200);
    const both = await call('GET', '/v1/me', {
      headers: { authorization: `Bearer pm_live_${'0'.repeat(64)}`, 'x-api-key': org.key },
    });
    expect(both.body).toEqual(unauthorized('Invalid API key'));
  });

  it('stores only the SHA-256 of a key', async () => {
    const k = await createKey(org.key);
    const [row] = await sql<{ key_hash: Buffer; summary: string }[]>`
      SELECT key_hash, summary FROM api_keys WHERE id = ${k.id}`;
    const { createHash } = await import('node:crypto');
    expect(row!.key_hash.equals(createHash('sha256').update(k.key).digest())).toBe(true);
    const columns = await sql<
      { t: string }[]
    >`SELECT row_to_json(k)::text AS t FROM api_keys k WHERE id = ${k.id}`;
    expect(columns[0]!.t).not.toContain(k.key.slice(8));
  });
});

describe('402 / 403 gates, before any prompt or run is read', () => {
  it('402 PAST_DUE and DISPUTED, 403 SUBSCRIPTION_INACTIVE, from the billing status', async () => {
    const org = await createOrg();
    const promptName = await createPrompt(org.key, { template: 'hi' });
    for (const [billingStatus, status, code] of [
      ['past_due', 402, 'PAST_DUE'],
      ['disputed', 402, 'DISPUTED'],
      ['canceled', 403, 'SUBSCRIPTION_INACTIVE'],
    ] as const) {
      await adminPatchOrg(org.orgId, { billingStatus });
      const list = await call('GET', '/v1/prompts', { key: org.key });
      expect(list.status).toBe(status);
      expect(errorOf(list.body).code).toBe(code);
      const run = await call('POST', '/api/v1/run', { key: org.key, body: { promptName } });
      expect(run.status).toBe(status);
      expect(run.body).toMatchObject({ success: false, code });
      // even /v1/me is refused: billing comes before everything
      expect((await call('GET', '/v1/me', { key: org.key })).status).toBe(status);
    }
    await adminPatchOrg(org.orgId, { billingStatus: 'active' });
    expect((await call('GET', '/v1/prompts', { key: org.key })).status).toBe(200);
  });

  it('402 comes before 403 API_NOT_ALLOWED', async () => {
    const org = await createOrg({ plan: 'free', billingStatus: 'past_due' });
    const res = await call('GET', '/v1/prompts', { key: org.key });
    expect(res.status).toBe(402);
  });

  it('Free plan: 403 API_NOT_ALLOWED everywhere but /v1/me and /v1/keys, and no run is created', async () => {
    const org = await createOrg({ plan: 'free' });
    const marker = unique('free');
    const before = mock.calls({ contains: marker }).then((c) => c.length);
    const run = await call('POST', '/api/v1/run', {
      key: org.key,
      body: { promptName: 'anything', variables: { x: marker } },
    });
    expect(run.status).toBe(403);
    expect(run.body).toMatchObject({ success: false, code: 'API_NOT_ALLOWED' });
    const prompts = await call('GET', '/v1/prompts', { key: org.key });
    expect(prompts.status).toBe(403);
    expect(errorOf(prompts.body)).toEqual({
      code: 'API_NOT_ALLOWED',
      message: 'The API requires a Pro, Team or Enterprise plan',
    });
    expect((await call('GET', '/api/v1/prompts', { key: org.key })).status).toBe(403);
    const [runs] = await sql<
      { n: number }[]
    >`SELECT count(*)::int AS n FROM runs WHERE org_id = ${org.orgId}`;
    expect(runs!.n).toBe(0);
    expect(await mock.calls({ contains: marker }).then((c) => c.length)).toBe(await before);

    const me = await call<{ data: { organization: { plan: string } } }>('GET', '/v1/me', { key: org.key });
    expect(me.status).toBe(200);
    expect(me.body.data.organization.plan).toBe('free');
    const created = await createKey(org.key, { name: 'free key' });
    const list = await call<{ data: { id: string }[] }>('GET', '/api/v1/keys', { key: created.key });
    expect(list.status).toBe(200);
    expect(list.body.data.map((k) => k.id)).toContain(created.id);

    // upgrading opens the API at once
    await adminPatchOrg(org.orgId, { plan: 'pro' });
    expect((await call('GET', '/v1/prompts', { key: org.key })).status).toBe(200);
  });
});

describe('403 FORBIDDEN: scopes and prompt restrictions', () => {
  let org: TestOrg;
  let allowedPrompt: string;
  let otherPrompt: string;
  let allowedId: string;
  beforeAll(async () => {
    org = await createOrg();
    allowedPrompt = await createPrompt(org.key, { template: 'Allowed {{x}}' });
    otherPrompt = await createPrompt(org.key, { template: 'Other {{x}}' });
    const p = await call<{ data: { id: string } }>('GET', `/v1/prompts/${allowedPrompt}`, { key: org.key });
    allowedId = p.body.data.id;
  });

  it('a key without a scope gets 403 on the routes that need it', async () => {
    const reader = await createKey(org.key, { scopes: ['prompts:read'] });
    expect((await call('GET', '/v1/prompts', { key: reader.key })).status).toBe(200);
    const write = await call('POST', '/v1/prompts', { key: reader.key, body: { name: unique('p') } });
    expect(write.status).toBe(403);
    expect(errorOf(write.body).code).toBe('FORBIDDEN');
    const run = await call('POST', '/api/v1/run', { key: reader.key, body: { promptName: allowedPrompt } });
    expect(run.status).toBe(403);
    expect(run.body).toMatchObject({ success: false, code: 'FORBIDDEN' });
    const keys = await call('GET', '/v1/keys', { key: reader.key });
    expect(keys.status).toBe(403);
    const members = await call('GET', '/v1/members', { key: reader.key });
    expect(members.status).toBe(403);
    // /v1/me needs no scope
    expect((await call('GET', '/v1/me', { key: reader.key })).status).toBe(200);
  });

  it('a key restricted to prompts runs those and gets 403 for the others', async () => {
    const restricted = await createKey(org.key, { scopes: ['runs:execute'], promptIds: [allowedId] });
    const ok = await call('POST', '/api/v1/run', {
      key: restricted.key,
      body: { promptName: allowedPrompt, variables: { x: 'a' } },
    });
    expect(ok.status).toBe(200);
    const denied = await call('POST', '/api/v1/run', {
      key: restricted.key,
      body: { promptName: otherPrompt, variables: { x: 'a' } },
    });
    expect(denied.status).toBe(403);
    expect(denied.body).toMatchObject({ success: false, code: 'FORBIDDEN' });
  });

  it('a restricted key cannot mint a key for other prompts or with more scopes', async () => {
    const limited = await createKey(org.key, {
      scopes: ['keys:write', 'runs:execute'],
      promptIds: [allowedId],
    });
    const wider = await call('POST', '/v1/keys', {
      key: limited.key,
      body: { name: 'x', scopes: ['runs:execute', 'prompts:write'] },
    });
    expect(wider.status).toBe(403);
    const allPrompts = await call('POST', '/v1/keys', {
      key: limited.key,
      body: { name: 'x', scopes: ['runs:execute'], promptIds: null },
    });
    expect(allPrompts.status).toBe(403);
    const ok = await createKey(limited.key, { scopes: ['runs:execute'] });
    expect(ok.promptIds).toEqual([allowedId]);
    expect(ok.scopes).toEqual(['runs:execute']);
  });
});
