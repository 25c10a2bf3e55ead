import { beforeAll, describe, expect, it } from 'vitest';
import { apiUrl, call, createOrg, type TestOrg } from './helpers.ts';
import { createKey, errorOf } from './limits-support.ts';

describe('CORS and allowed origins', () => {
  let org: TestOrg;
  let webKey: { id: string; key: string };
  beforeAll(async () => {
    org = await createOrg();
    webKey = await createKey(org.key, {
      allowedOrigins: ['https://app.example.com', 'http://localhost:5173'],
    });
  });

  it('answers preflights for any origin, without a key', async () => {
    for (const origin of ['https://app.example.com', 'https://evil.example.net']) {
      const res = await fetch(`${apiUrl}/v1/prompts`, {
        method: 'OPTIONS',
        headers: {
          origin,
          'access-control-request-method': 'POST',
          'access-control-request-headers': 'authorization, content-type',
        },
      });
      expect(res.status).toBe(204);
      expect(res.headers.get('access-control-allow-origin')).toBe(origin);
      expect(res.headers.get('access-control-allow-methods')).toContain('POST');
      expect(res.headers.get('access-control-allow-headers')).toBe('authorization, content-type');
      expect(res.headers.get('access-control-max-age')).toBe('600');
      expect(res.headers.get('vary')).toContain('Origin');
    }
    const seed = await fetch(`${apiUrl}/api/v1/run`, {
      method: 'OPTIONS',
      headers: { origin: 'https://x.example', 'access-control-request-method': 'POST' },
    });
    expect(seed.status).toBe(204);
  });

  it('an allowed origin gets the response with Access-Control-Allow-Origin and exposed headers', async () => {
    const res = await call('GET', '/v1/me', {
      key: webKey.key,
      headers: { origin: 'https://app.example.com' },
    });
    expect(res.status).toBe(200);
    expect(res.headers.get('access-control-allow-origin')).toBe('https://app.example.com');
    expect(res.headers.get('access-control-expose-headers')).toContain('X-RateLimit-Remaining');
    // origins compare normalized (case, default port)
    const alt = await call('GET', '/v1/me', {
      key: webKey.key,
      headers: { origin: 'HTTPS://APP.example.com:443' },
    });
    expect(alt.status).toBe(200);
  });

  it('a disallowed origin is 403 ORIGIN_NOT_ALLOWED without Access-Control-Allow-Origin', async () => {
    for (const origin of [
      'https://evil.example.net',
      'http://app.example.com',
      'null',
      'http://localhost:5174',
    ]) {
      const res = await call('GET', '/v1/me', { key: webKey.key, headers: { origin } });
      expect(res.status, origin).toBe(403);
      expect(errorOf(res.body)).toEqual({
        code: 'ORIGIN_NOT_ALLOWED',
        message: 'This API key may not be used from this origin',
      });
      expect(res.headers.get('access-control-allow-origin')).toBeNull();
    }
    const seed = await call('POST', '/api/v1/run', {
      key: webKey.key,
      headers: { origin: 'https://evil.example.net' },
      body: { promptName: 'x' },
    });
    expect(seed.status).toBe(403);
    expect(seed.body).toMatchObject({ success: false, code: 'ORIGIN_NOT_ALLOWED' });
  });

  it('requests without Origin (servers) are not restricted; keys without allowed origins take any origin', async () => {
    expect((await call('GET', '/v1/me', { key: webKey.key })).status).toBe(200);
    const open = await call('GET', '/v1/me', {
      key: org.key,
      headers: { origin: 'https://anything.example' },
    });
    expect(open.status).toBe(200);
    expect(open.headers.get('access-control-allow-origin')).toBe('https://anything.example');
  });

  it('the origin check comes after the billing gate and before the scope check', async () => {
    const narrow = await createKey(org.key, {
      scopes: ['runs:read'],
      allowedOrigins: ['https://app.example.com'],
    });
    const forbiddenOrigin = await call('GET', '/v1/prompts', {
      key: narrow.key,
      headers: { origin: 'https://evil.example.net' },
    });
    expect(errorOf(forbiddenOrigin.body).code).toBe('ORIGIN_NOT_ALLOWED');
    const allowedOrigin = await call('GET', '/v1/prompts', {
      key: narrow.key,
      headers: { origin: 'https://app.example.com' },
    });
    expect(errorOf(allowedOrigin.body).code).toBe('FORBIDDEN');
    const free = await createOrg({ plan: 'free' });
    const freeWeb = await createKey(free.key, { allowedOrigins: ['https://app.example.com'] });
    const gated = await call('GET', '/v1/prompts', {
      key: freeWeb.key,
      headers: { origin: 'https://evil.example.net' },
    });
    expect(errorOf(gated.body).code).toBe('API_NOT_ALLOWED');
  });

  it('a 401 from a browser stays readable (Access-Control-Allow-Origin is set)', async () => {
    const res = await call('GET', '/v1/me', { headers: { origin: 'https://app.example.com' } });
    expect(res.status).toBe(401);
    expect(res.headers.get('access-control-allow-origin')).toBe('https://app.example.com');
  });
});
