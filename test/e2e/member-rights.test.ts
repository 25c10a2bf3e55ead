// Hardening items 7 and 8: who may change whom among members, and how the operator restores access.
// Rule: a key acts with the role of its owner member; it may add members up to that role and suspend,
// unsuspend or remove only members of a lower role (owner > admin > member); nothing but the operator
// API changes the owner's access. Member routes need an unrestricted key (no prompt list).
import { beforeAll, describe, expect, it } from 'vitest';
import { adminToken, call, createOrg, createPrompt, type TestOrg, unique } from './helpers.ts';
import { createKey, errorOf, type KeyBody, testSql } from './limits-support.ts';

const sql = testSql();

interface MemberBody {
  id: string;
  role: string;
  status: string;
}

async function addMember(key: string, role: 'admin' | 'member' = 'member') {
  const res = await call<{ data: MemberBody }>('POST', '/v1/members', {
    key,
    body: { email: `${unique('m')}@example.com`, role },
  });
  if (res.status !== 201) throw new Error(`addMember: ${res.status} ${res.text}`);
  return res.body.data;
}

const admin = (method: string, path: string, body?: unknown) =>
  call<{ data: Record<string, unknown> }>(method, path, {
    headers: { authorization: `Bearer ${adminToken}` },
    ...(body !== undefined ? { body } : {}),
  });

describe('member changes follow the roles of the keys’ owners', () => {
  let org: TestOrg;
  let adminMember: MemberBody;
  let adminKey: KeyBody & { key: string };
  beforeAll(async () => {
    org = await createOrg();
    adminMember = await addMember(org.key, 'admin');
    adminKey = await createKey(org.key, { ownerId: adminMember.id, scopes: ['admin'] });
  });

  it('an admin’s key cannot suspend or remove the owner; the owner stays active', async () => {
    const suspend = await call('POST', `/v1/members/${org.ownerId}/suspend`, { key: adminKey.key });
    expect(suspend.status).toBe(403);
    expect(errorOf(suspend.body)).toEqual({
      code: 'FORBIDDEN',
      message: "The organization owner's access can only be changed through the operator API",
    });
    const remove = await call('DELETE', `/v1/members/${org.ownerId}`, { key: adminKey.key });
    expect(remove.status).toBe(409);
    expect((await call('GET', '/v1/me', { key: org.key })).status).toBe(200);
  });

  it('an admin’s key cannot suspend, unsuspend or remove another admin; the owner’s key can', async () => {
    const other = await addMember(org.key, 'admin');
    const otherKey = await createKey(org.key, { ownerId: other.id, scopes: ['admin'] });
    for (const [method, path] of [
      ['POST', `/v1/members/${other.id}/suspend`],
      ['POST', `/v1/members/${other.id}/unsuspend`],
      ['DELETE', `/v1/members/${other.id}`],
    ] as const) {
      const res = await call(method, path, { key: adminKey.key });
      expect(res.status, `${method} ${path}`).toBe(403);
      expect(errorOf(res.body).message).toBe(
        'Only a key owned by the organization owner can change an admin',
      );
    }
    expect((await call('GET', '/v1/me', { key: otherKey.key })).status).toBe(200);
    expect((await call('POST', `/v1/members/${other.id}/suspend`, { key: org.key })).status).toBe(200);
    expect((await call('GET', '/v1/me', { key: otherKey.key })).status).toBe(401);
    expect((await call('POST', `/v1/members/${other.id}/unsuspend`, { key: org.key })).status).toBe(200);
  });

  it('an admin’s key manages plain members', async () => {
    const m = await addMember(adminKey.key, 'member');
    expect((await call('POST', `/v1/members/${m.id}/suspend`, { key: adminKey.key })).status).toBe(200);
    expect((await call('POST', `/v1/members/${m.id}/unsuspend`, { key: adminKey.key })).status).toBe(200);
    expect((await call('DELETE', `/v1/members/${m.id}`, { key: adminKey.key })).status).toBe(200);
    // adding is up to the caller's own role
    expect((await addMember(adminKey.key, 'admin')).role).toBe('admin');
  });

  it('a plain member’s key cannot change members even with the admin scope', async () => {
    const m = await addMember(org.key, 'member');
    const mKey = await createKey(org.key, { ownerId: m.id, scopes: ['admin'] });
    const peer = await addMember(org.key, 'member');
    for (const [method, path, body] of [
      ['POST', '/v1/members', { email: `${unique('m')}@example.com` }],
      ['POST', `/v1/members/${peer.id}/suspend`, undefined],
      ['DELETE', `/v1/members/${peer.id}`, undefined],
    ] as const) {
      const res = await call(method, path, { key: mKey.key, ...(body ? { body } : {}) });
      expect(res.status, `${method} ${path}`).toBe(403);
      expect(errorOf(res.body).code).toBe('FORBIDDEN');
    }
  });

  it('an admin’s key cannot take over the owner’s keys or mint keys in the owner’s name', async () => {
    const ownerKey = await createKey(org.key, { scopes: ['admin'] });
    for (const [method, path, body] of [
      ['POST', `/v1/keys/${ownerKey.id}/rotate`, {}],
      ['DELETE', `/v1/keys/${ownerKey.id}`, undefined],
      ['PATCH', `/v1/keys/${ownerKey.id}`, { name: 'mine now' }],
      ['POST', '/v1/keys', { name: 'as owner', ownerId: org.ownerId }],
    ] as const) {
      const res = await call(method, path, { key: adminKey.key, ...(body ? { body } : {}) });
      expect(res.status, `${method} ${path}`).toBe(403);
      expect(errorOf(res.body).code).toBe('FORBIDDEN');
    }
    expect((await call('GET', '/v1/me', { key: ownerKey.key })).status).toBe(200);
    // its own keys and its members' keys are its to manage
    const m = await addMember(adminKey.key, 'member');
    const mKey = await createKey(adminKey.key, { ownerId: m.id, scopes: ['prompts:read'] });
    expect((await call('DELETE', `/v1/keys/${mKey.id}`, { key: adminKey.key })).status).toBe(200);
  });
});

describe('member routes need a key without a prompt restriction', () => {
  it('a prompt-restricted admin key gets 403 on every member route', async () => {
    const org = await createOrg();
    const name = await createPrompt(org.key, { template: 'x' });
    const p = await call<{ data: { id: string } }>('GET', `/v1/prompts/${name}`, { key: org.key });
    const restricted = await createKey(org.key, { scopes: ['admin'], promptIds: [p.body.data.id] });
    const m = await addMember(org.key, 'member');
    const mKey = await createKey(org.key, { ownerId: m.id, scopes: ['prompts:read'] });
    for (const [method, path, body] of [
      ['GET', '/v1/members', undefined],
      ['GET', `/v1/members/${m.id}`, undefined],
      ['POST', '/v1/members', { email: `${unique('m')}@example.com` }],
      ['POST', `/v1/members/${m.id}/suspend`, undefined],
      ['POST', `/v1/members/${m.id}/unsuspend`, undefined],
      ['DELETE', `/v1/members/${m.id}`, undefined],
    ] as const) {
      const res = await call(method, path, { key: restricted.key, ...(body ? { body } : {}) });
      expect(res.status, `${method} ${path}`).toBe(403);
      expect(errorOf(res.body)).toEqual({
        code: 'FORBIDDEN',
        message: 'This API key is restricted to some prompts and cannot manage members',
      });
    }
    // the member and its key (which the restricted key may not touch) are unharmed
    expect((await call('GET', '/v1/me', { key: mKey.key })).status).toBe(200);
  });
});

describe('the operator restores access', () => {
  it('a fully locked-out owner: unsuspend through /admin/v1, then a fresh admin key for the owner', async () => {
    const org = await createOrg();
    // a lockout: the owner suspended (as the old code allowed) and its only key revoked
    await sql`UPDATE members SET suspended_at = now() WHERE id = ${org.ownerId}`;
    await sql`UPDATE api_keys SET revoked_at = now() WHERE id = ${org.keyId}`;
    expect((await call('GET', '/v1/me', { key: org.key })).status).toBe(401);

    // a key for a suspended member would not work: say so
    const early = await admin('POST', `/admin/v1/orgs/${org.orgId}/keys`, {});
    expect(early.status).toBe(409);
    expect(errorOf(early.body).code).toBe('INVALID_STATE');

    const lifted = await admin('POST', `/admin/v1/orgs/${org.orgId}/members/${org.ownerId}/unsuspend`);
    expect(lifted.status).toBe(200);
    expect(lifted.body.data).toMatchObject({ id: org.ownerId, role: 'owner', status: 'active' });

    const minted = await admin('POST', `/admin/v1/orgs/${org.orgId}/keys`, { name: 'Recovery key' });
    expect(minted.status).toBe(201);
    expect(minted.headers.get('cache-control')).toBe('no-store');
    const key = minted.body.data as unknown as KeyBody & { key: string };
    expect(key).toMatchObject({
      name: 'Recovery key',
      ownerId: org.ownerId,
      scopes: ['admin'],
      promptIds: null,
      rateLimits: {},
      allowedOrigins: null,
      expiresAt: null,
      status: 'active',
    });
    expect(key.key).toMatch(/^pm_live_[0-9a-f]{64}$/);
    const me = await call<{ data: { key: { id: string } } }>('GET', '/v1/me', { key: key.key });
    expect(me.status).toBe(200);
    expect(me.body.data.key.id).toBe(key.id);
  });

  it('404s for unknown organizations and members; needs the admin token', async () => {
    const org = await createOrg();
    const other = await createOrg();
    expect((await admin('POST', '/admin/v1/orgs/org_missing/keys', {})).status).toBe(404);
    const foreign = await admin('POST', `/admin/v1/orgs/${org.orgId}/members/${other.ownerId}/unsuspend`);
    expect(foreign.status).toBe(404);
    expect(errorOf(foreign.body).code).toBe('MEMBER_NOT_FOUND');
    const noToken = await call('POST', `/admin/v1/orgs/${org.orgId}/keys`, { body: {}, key: org.key });
    expect(noToken.status).toBe(401);
  });
});
