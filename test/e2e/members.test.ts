import { beforeAll, describe, expect, it } from 'vitest';
import { call, createOrg, type TestOrg, unique } from './helpers.ts';
import { createKey, errorOf, testSql } from './limits-support.ts';

const sql = testSql();

interface MemberBody {
  id: string;
  email: string;
  name: string | null;
  role: string;
  status: string;
  suspendedAt: string | null;
}

async function addMember(key: string, body: Record<string, unknown> = {}) {
  const res = await call<{ data: MemberBody }>('POST', '/v1/members', {
    key,
    body: { email: `${unique('m')}@example.com`, ...body },
  });
  if (res.status !== 201) throw new Error(`addMember: ${res.status} ${res.text}`);
  return res.body.data;
}

describe('team members', () => {
  let org: TestOrg;
  beforeAll(async () => {
    org = await createOrg({ owner: { email: 'founder@example.com', name: 'Founder' } });
  });

  it('lists the owner first; adds members and records team.member_added', async () => {
    const res = await call<{ data: MemberBody }>('POST', '/v1/members', {
      key: org.key,
      body: { email: 'Ada@Example.com', name: 'Ada', role: 'admin' },
    });
    expect(res.status).toBe(201);
    expect(res.headers.get('location')).toBe(`/v1/members/${res.body.data.id}`);
    expect(res.body.data).toMatchObject({
      id: expect.stringMatching(/^mbr_/),
      email: 'Ada@Example.com',
      name: 'Ada',
      role: 'admin',
      status: 'active',
      suspendedAt: null,
    });
    const list = await call<{ data: MemberBody[]; meta: { total: number } }>('GET', '/v1/members', {
      key: org.key,
    });
    expect(list.body.data.map((m) => m.email)).toEqual(['founder@example.com', 'Ada@Example.com']);
    expect(list.body.data[0]).toMatchObject({ id: org.ownerId, role: 'owner' });
    expect(list.body.meta.total).toBe(2);

    const events = await sql<{ id: string; type: string; payload: Record<string, unknown> }[]>`
      SELECT id, type, payload FROM events WHERE org_id = ${org.orgId} AND type = 'team.member_added'`;
    expect(events).toHaveLength(1);
    expect(events[0]!.id).toMatch(/^evt_/);
    expect(events[0]!.payload).toEqual({
      member_id: res.body.data.id,
      organization_id: org.orgId,
      email: 'Ada@Example.com',
      name: 'Ada',
      role: 'admin',
      actor_key_id: org.keyId,
    });

    const dup = await call('POST', '/v1/members', { key: org.key, body: { email: 'ada@example.com' } });
    expect(dup.status).toBe(409);
    expect(errorOf(dup.body).code).toBe('CONFLICT');
    const invalid = await call('POST', '/v1/members', { key: org.key, body: { email: 'not-an-email' } });
    expect(invalid.status).toBe(400);
    const owner = await call('POST', '/v1/members', {
      key: org.key,
      body: { email: 'x@example.com', role: 'owner' },
    });
    expect(owner.status).toBe(400);
  });

  it("suspending a member makes its keys fail with 'API key owner is suspended' until unsuspended", async () => {
    const m = await addMember(org.key);
    const k1 = await createKey(org.key, { ownerId: m.id });
    const k2 = await createKey(org.key, { ownerId: m.id, scopes: ['prompts:read'] });
    expect((await call('GET', '/v1/me', { key: k1.key })).status).toBe(200);

    const suspended = await call<{ data: MemberBody }>('POST', `/v1/members/${m.id}/suspend`, {
      key: org.key,
    });
    expect(suspended.status).toBe(200);
    expect(suspended.body.data.status).toBe('suspended');
    for (const k of [k1, k2]) {
      const res = await call('GET', '/v1/me', { key: k.key });
      expect(res.status).toBe(401);
      expect(res.body).toEqual({ error: { code: 'UNAUTHORIZED', message: 'API key owner is suspended' } });
    }
    // suspending twice keeps the first time
    const again = await call<{ data: MemberBody }>('POST', `/v1/members/${m.id}/suspend`, { key: org.key });
    expect(again.body.data.suspendedAt).toBe(suspended.body.data.suspendedAt);
    // other members' keys are unaffected
    expect((await call('GET', '/v1/me', { key: org.key })).status).toBe(200);

    const lifted = await call<{ data: MemberBody }>('POST', `/v1/members/${m.id}/unsuspend`, {
      key: org.key,
    });
    expect(lifted.body.data).toMatchObject({ status: 'active', suspendedAt: null });
    expect((await call('GET', '/v1/me', { key: k1.key })).status).toBe(200);
  });

  it('removing a member revokes its keys and records team.member_removed', async () => {
    const m = await addMember(org.key, { name: 'Leaving' });
    const k = await createKey(org.key, { ownerId: m.id });
    const res = await call<{ data: MemberBody }>('DELETE', `/v1/members/${m.id}`, { key: org.key });
    expect(res.status).toBe(200);
    expect(res.body.data.id).toBe(m.id);
    const after = await call('GET', '/v1/me', { key: k.key });
    expect(after.status).toBe(401);
    expect(errorOf(after.body).message).toBe('API key has been revoked');
    expect((await call('GET', `/v1/members/${m.id}`, { key: org.key })).status).toBe(404);
    const list = await call<{ data: MemberBody[] }>('GET', '/v1/members?per_page=100', { key: org.key });
    expect(list.body.data.map((x) => x.id)).not.toContain(m.id);
    const [event] = await sql<{ payload: Record<string, unknown> }[]>`
      SELECT payload FROM events WHERE org_id = ${org.orgId} AND type = 'team.member_removed'
        AND payload->>'member_id' = ${m.id}`;
    expect(event!.payload).toMatchObject({ member_id: m.id, name: 'Leaving', email: m.email });
    // the email can be used again
    await addMember(org.key, { email: m.email });
    expect((await call('DELETE', `/v1/members/${m.id}`, { key: org.key })).status).toBe(404);
  });

  it('refuses to suspend or remove the owner of the calling key, and to remove or suspend the org owner', async () => {
    const suspendSelf = await call('POST', `/v1/members/${org.ownerId}/suspend`, { key: org.key });
    expect(suspendSelf.status).toBe(409);
    expect(errorOf(suspendSelf.body).code).toBe('INVALID_STATE');
    const admin = await addMember(org.key, { role: 'admin' });
    const adminKey = await createKey(org.key, { ownerId: admin.id, scopes: ['admin'] });
    const removeOwner = await call('DELETE', `/v1/members/${org.ownerId}`, { key: adminKey.key });
    expect(removeOwner.status).toBe(409);
    expect(errorOf(removeOwner.body).message).toBe('The organization owner cannot be removed');
    // nor suspend the owner: only the operator API changes the owner's access (member-rights.test.ts)
    const suspendOwner = await call('POST', `/v1/members/${org.ownerId}/suspend`, { key: adminKey.key });
    expect(suspendOwner.status).toBe(403);
    expect(errorOf(suspendOwner.body).code).toBe('FORBIDDEN');
    expect((await call('GET', '/v1/me', { key: org.key })).status).toBe(200);
  });

  it('needs the admin scope; other organizations see 404', async () => {
    const writer = await createKey(org.key, { scopes: ['keys:write'] });
    const res = await call('POST', '/v1/members', { key: writer.key, body: { email: 'y@example.com' } });
    expect(res.status).toBe(403);
    expect(errorOf(res.body).code).toBe('FORBIDDEN');
    const other = await createOrg();
    for (const [method, path] of [
      ['GET', `/v1/members/${org.ownerId}`],
      ['POST', `/v1/members/${org.ownerId}/suspend`],
      ['DELETE', `/v1/members/${org.ownerId}`],
    ] as const) {
      const r = await call(method, path, { key: other.key });
      expect(r.status, `${method} ${path}`).toBe(404);
      expect(errorOf(r.body).code).toBe('MEMBER_NOT_FOUND');
    }
  });
});
