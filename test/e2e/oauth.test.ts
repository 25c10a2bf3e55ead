import { beforeAll, describe, expect, it } from 'vitest';
import { apiUrl, call, createOrg, type TestOrg } from './helpers.ts';
import { createKey, errorOf } from './limits-support.ts';

interface TokenBody {
  access_token: string;
  token_type: string;
  expires_in: number;
}

async function tokenRequest(body: string | Record<string, string>, headers: Record<string, string> = {}) {
  const isForm = typeof body === 'string';
  const res = await fetch(`${apiUrl}/oauth/token`, {
    method: 'POST',
    headers: {
      'content-type': isForm ? 'application/x-www-form-urlencoded' : 'application/json',
      ...headers,
    },
    body: isForm ? body : JSON.stringify(body),
  });
  return { status: res.status, headers: res.headers, body: (await res.json()) as Record<string, unknown> };
}

const form = (fields: Record<string, string>) => new URLSearchParams(fields).toString();

describe('POST /oauth/token (client credentials)', () => {
  let org: TestOrg;
  let reader: { id: string; key: string };
  beforeAll(async () => {
    org = await createOrg();
    reader = await createKey(org.key, { scopes: ['prompts:read'] });
  });

  it('issues a short-lived bearer token for a key id + secret (form body) with the key’s rights', async () => {
    const res = await tokenRequest(
      form({ grant_type: 'client_credentials', client_id: reader.id, client_secret: reader.key }),
    );
    expect(res.status).toBe(200);
    expect(res.headers.get('cache-control')).toBe('no-store');
    expect(res.headers.get('pragma')).toBe('no-cache');
    const token = res.body as unknown as TokenBody;
    expect(token).toEqual({
      access_token: expect.stringMatching(/^pm_at_/),
      token_type: 'Bearer',
      expires_in: 3600,
    });
    expect(token.access_token).not.toContain(reader.key.slice(8));

    const me = await call<{ data: { auth: string; key: { id: string } } }>('GET', '/v1/me', {
      key: token.access_token,
    });
    expect(me.status).toBe(200);
    expect(me.body.data).toMatchObject({ auth: 'oauth', key: { id: reader.id } });
    // same rights: prompts:read yes, keys:write no
    expect((await call('GET', '/v1/prompts', { key: token.access_token })).status).toBe(200);
    const keys = await call('GET', '/v1/keys', { key: token.access_token });
    expect(keys.status).toBe(403);
    expect(errorOf(keys.body).code).toBe('FORBIDDEN');
    // rate-limit headers like any authenticated call
    expect(me.headers.get('x-ratelimit-limit')).not.toBeNull();
  });

  it('accepts HTTP Basic client authentication and a JSON body', async () => {
    const basic = Buffer.from(`${reader.id}:${reader.key}`).toString('base64');
    const viaBasic = await tokenRequest(form({ grant_type: 'client_credentials' }), {
      authorization: `Basic ${basic}`,
    });
    expect(viaBasic.status).toBe(200);
    const viaJson = await tokenRequest({
      grant_type: 'client_credentials',
      client_id: reader.id,
      client_secret: reader.key,
    });
    expect(viaJson.status).toBe(200);
    expect((await call('GET', '/v1/me', { key: String(viaJson.body.access_token) })).status).toBe(200);
  });

  it('RFC 6749 errors: invalid_request, unsupported_grant_type, invalid_client', async () => {
    const missingGrant = await tokenRequest(form({ client_id: reader.id, client_secret: reader.key }));
    expect(missingGrant.status).toBe(400);
    expect(missingGrant.body).toMatchObject({ error: 'invalid_request' });

    const wrongGrant = await tokenRequest(
      form({ grant_type: 'password', client_id: reader.id, client_secret: reader.key }),
    );
    expect(wrongGrant.status).toBe(400);
    expect(wrongGrant.body).toMatchObject({ error: 'unsupported_grant_type' });

    const other = await createKey(org.key);
    const attempts: Record<string, string>[] = [
      { grant_type: 'client_credentials', client_id: reader.id, client_secret: other.key },
      { grant_type: 'client_credentials', client_id: reader.id, client_secret: `pm_live_${'0'.repeat(64)}` },
      { grant_type: 'client_credentials', client_id: reader.id, client_secret: 'short' },
      { grant_type: 'client_credentials', client_id: reader.id },
    ];
    for (const fields of attempts) {
      const res = await tokenRequest(form(fields));
      expect(res.status, JSON.stringify(fields)).toBe(401);
      expect(res.body).toMatchObject({ error: 'invalid_client' });
    }
    const badBasic = await tokenRequest(form({ grant_type: 'client_credentials' }), {
      authorization: `Basic ${Buffer.from(`${reader.id}:wrong`).toString('base64')}`,
    });
    expect(badBasic.status).toBe(401);
    expect(badBasic.headers.get('www-authenticate')).toMatch(/^Basic/);
    const both = await tokenRequest(
      form({ grant_type: 'client_credentials', client_id: reader.id, client_secret: reader.key }),
      { authorization: `Basic ${Buffer.from(`${reader.id}:${reader.key}`).toString('base64')}` },
    );
    expect(both.status).toBe(400);
    expect(both.body).toMatchObject({ error: 'invalid_request' });
    const notForm = await fetch(`${apiUrl}/oauth/token`, {
      method: 'POST',
      headers: { 'content-type': 'text/plain' },
      body: 'grant_type=client_credentials',
    });
    expect(notForm.status).toBe(400);
    expect(await notForm.json()).toMatchObject({ error: 'invalid_request' });
  });

  it('revoking the key ends its tokens; a revoked key gets no token', async () => {
    const k = await createKey(org.key);
    const token = (
      await tokenRequest(form({ grant_type: 'client_credentials', client_id: k.id, client_secret: k.key }))
    ).body.access_token as string;
    expect((await call('GET', '/v1/me', { key: token })).status).toBe(200);
    await call('DELETE', `/v1/keys/${k.id}`, { key: org.key });
    const res = await call('GET', '/v1/me', { key: token });
    expect(res.status).toBe(401);
    expect(errorOf(res.body).message).toBe('API key has been revoked');
    const again = await tokenRequest(
      form({ grant_type: 'client_credentials', client_id: k.id, client_secret: k.key }),
    );
    expect(again.status).toBe(401);
    expect(again.body).toMatchObject({
      error: 'invalid_client',
      error_description: 'API key has been revoked',
    });
  });

  it('a token minted from a rotated-out secret ends with that secret; one from the new secret lives on', async () => {
    const k = await createKey(org.key);
    const oldToken = (
      await tokenRequest(form({ grant_type: 'client_credentials', client_id: k.id, client_secret: k.key }))
    ).body.access_token as string;
    const rotated = await call<{ data: { key: string } }>('POST', `/v1/keys/${k.id}/rotate`, {
      key: org.key,
      body: { gracePeriodSeconds: 0 },
    });
    const newToken = (
      await tokenRequest(
        form({ grant_type: 'client_credentials', client_id: k.id, client_secret: rotated.body.data.key }),
      )
    ).body.access_token as string;
    expect(errorOf((await call('GET', '/v1/me', { key: oldToken })).body).message).toBe('Invalid API key');
    expect((await call('GET', '/v1/me', { key: newToken })).status).toBe(200);
  });

  it('a tampered or foreign token is an invalid key; a garbled one has an invalid format', async () => {
    const token = (
      await tokenRequest(
        form({ grant_type: 'client_credentials', client_id: reader.id, client_secret: reader.key }),
      )
    ).body.access_token as string;
    const [payload, signature] = token.slice('pm_at_'.length).split('.') as [string, string];
    const forged = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as Record<string, unknown>;
    forged.k = org.keyId; // try to borrow the admin key's rights
    const tampered = `pm_at_${Buffer.from(JSON.stringify(forged)).toString('base64url')}.${signature}`;
    const res = await call('GET', '/v1/keys', { key: tampered });
    expect(res.status).toBe(401);
    expect(errorOf(res.body).message).toBe('Invalid API key');
    const garbled = await call('GET', '/v1/me', { key: 'pm_at_???' });
    expect(errorOf(garbled.body).message).toBe('Invalid API key format');
  });

  it('tokens expire with a key that expires sooner than the token lifetime', async () => {
    const k = await createKey(org.key, { expiresIn: new Date(Date.now() + 1500).toISOString() });
    const res = await tokenRequest(
      form({ grant_type: 'client_credentials', client_id: k.id, client_secret: k.key }),
    );
    expect(res.status).toBe(200);
    expect(res.body.expires_in).toBeLessThanOrEqual(2);
    await new Promise((r) => setTimeout(r, 1600));
    const after = await call('GET', '/v1/me', { key: String(res.body.access_token) });
    expect(after.status).toBe(401);
    expect(errorOf(after.body).message).toBe('API key has expired');
  });
});
