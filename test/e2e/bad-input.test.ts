// Bad input is a client error, never a 5xx: each class of input that once answered 500 (NUL bytes and
// lone surrogates in any string, malformed percent-encoding in a path, integers past int4, dates
// outside 1970..9999, JSON nested 20,000 deep, broken Content-Encoding) is refused at the edge with
// 400 and the field named, or 415 for an encoding the api does not accept; the sync routes keep the
// seed's error shape.
import { brotliCompressSync, deflateSync, gzipSync } from 'node:zlib';
import { beforeAll, describe, expect, it } from 'vitest';
import { adminToken, apiUrl, call, createOrg, createPrompt, type TestOrg, unique } from './helpers.ts';

interface ApiError {
  error: { code: string; message: string; details?: { field: string; message: string }[] };
}

const NUL = '\u0000';
const LONE_HIGH = '\ud800';
const LONE_LOW = '\udfff';

/** The api's 400 VALIDATION_ERROR naming exactly these fields. */
function expectFields(res: { status: number; body: unknown }, fields: string[]): void {
  expect(res.status, JSON.stringify(res.body)).toBe(400);
  const body = res.body as ApiError;
  expect(body.error.code).toBe('VALIDATION_ERROR');
  // one field may have several issues (2^53 is too big and not a safe integer)
  expect([...new Set(body.error.details?.map((d) => d.field))]).toEqual(fields);
}

/** The seed's flat 400 whose message names the field. */
function expectSeedFields(res: { status: number; body: unknown }, code: string, field: string): void {
  expect(res.status, JSON.stringify(res.body)).toBe(400);
  expect(res.body).toEqual({ success: false, code, error: expect.stringContaining(field) });
}

/** A raw request (binary bodies, headers `call` would set differently). */
async function send(
  method: string,
  path: string,
  key: string,
  body: Uint8Array | string,
  headers: Record<string, string> = {},
): Promise<{ status: number; body: unknown }> {
  const res = await fetch(`${apiUrl}${path}`, {
    method,
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json', ...headers },
    body,
  });
  const text = await res.text();
  try {
    return { status: res.status, body: JSON.parse(text) };
  } catch {
    return { status: res.status, body: text };
  }
}

/** `depth` arrays nested in one another: `[[[…]]]` */
const nested = (depth: number) => `${'['.repeat(depth)}${']'.repeat(depth)}`;

let org: TestOrg;
let prompt: string;

beforeAll(async () => {
  org = await createOrg({ plan: 'enterprise' });
  prompt = await createPrompt(org.key, { template: 'Hello {{who}}' });
});

describe('strings: NUL and lone surrogates anywhere → 400 VALIDATION_ERROR naming the field', () => {
  it('in body fields of every room (prompts, versions, keys, members, orgs)', async () => {
    const { key } = org;
    expectFields(await call('POST', '/v1/prompts', { key, body: { name: `a${NUL}b` } }), ['name']);
    expectFields(await call('POST', '/v1/prompts', { key, body: { name: unique(), description: NUL } }), [
      'description',
    ]);
    expectFields(await call('POST', '/v1/prompts', { key, body: { name: unique(), tags: ['ok', NUL] } }), [
      'tags.1',
    ]);
    expectFields(
      await call('PATCH', `/v1/prompts/${prompt}`, { key, body: { description: `x${LONE_LOW}` } }),
      ['description'],
    );
    expectFields(
      await call('POST', `/v1/prompts/${prompt}/versions`, { key, body: { model: 'mock-1', template: NUL } }),
      ['template'],
    );
    expectFields(
      await call('POST', `/v1/prompts/${prompt}/versions`, {
        key,
        body: { model: 'mock-1', messages: [{ role: 'user', content: `hi ${LONE_HIGH}` }] },
      }),
      ['messages.0.content'],
    );
    expectFields(
      await call('POST', `/v1/prompts/${prompt}/versions`, {
        key,
        body: { model: 'mock-1', template: 'x', commitMessage: LONE_HIGH },
      }),
      ['commitMessage'],
    );
    expectFields(await call('POST', '/v1/keys', { key, body: { name: `k${NUL}` } }), ['name']);
    expectFields(
      await call('POST', '/v1/members', { key, body: { email: `${unique()}@example.com`, name: NUL } }),
      ['name'],
    );
    expectFields(
      await call('POST', '/admin/v1/orgs', {
        headers: { authorization: `Bearer ${adminToken}` },
        body: { name: `org${NUL}` },
      }),
      ['name'],
    );
  });

  it('a lone surrogate is refused, not stored as U+FFFD', async () => {
    // JSON.stringify escapes it (`"\ud800"`), so the api receives the lone surrogate itself
    const res = await call('POST', '/v1/prompts', { key: org.key, body: { name: `lone${LONE_HIGH}` } });
    expectFields(res, ['name']);
    expect((res.body as unknown as ApiError).error.details?.[0]?.message).toMatch(/surrogate/);
  });

  it('inside free-form variables and metadata, values and keys, at any depth', async () => {
    const { key } = org;
    expectFields(await call('POST', '/v1/runs', { key, body: { prompt, variables: { who: `a${NUL}` } } }), [
      'variables.who',
    ]);
    expectFields(
      await call('POST', '/v1/runs', {
        key,
        body: { prompt, variables: { who: 'x' }, metadata: { a: { b: [1, LONE_HIGH] } } },
      }),
      ['metadata.a.b.1'],
    );
    const badKey = await call('POST', '/v1/runs', {
      key,
      body: { prompt, variables: { who: 'x' }, metadata: { [`k${NUL}`]: 1, [`j${LONE_LOW}`]: 2 } },
    });
    // the offending character is spelled out in the field path, never echoed raw
    expectFields(badKey, ['metadata.k\\u0000', 'metadata.j\\udfff']);
    expectFields(
      await call('POST', `/v1/prompts/${prompt}/render`, { key, body: { variables: { who: NUL } } }),
      ['variables.who'],
    );
  });

  it('in query parameters and path ids', async () => {
    const { key } = org;
    expectFields(await call('GET', '/v1/prompts?search=%00', { key }), ['search']);
    expectFields(await call('GET', '/v1/prompts?tag=ok&tag=a%00', { key }), ['tag.1']);
    expectFields(await call('GET', '/v1/runs?prompt=%00', { key }), ['prompt']);
    expectFields(await call('GET', '/v1/prompts/%00', { key }), ['idOrName']);
    expectFields(await call('GET', '/v1/prompts/a%00b/versions', { key }), ['idOrName']);
    expectFields(await call('GET', '/v1/runs/%00', { key }), ['id']);
    expectFields(await call('GET', '/v1/keys/%00', { key }), ['id']);
    expectFields(await call('DELETE', '/v1/members/%00', { key }), ['id']);
    expectFields(await call('GET', '/v1/templates/%00', { key }), ['id']);
    expectFields(
      await call('GET', '/admin/v1/orgs/%00', { headers: { authorization: `Bearer ${adminToken}` } }),
      ['id'],
    );
  });

  it('the sync routes answer in the seed shape, naming the field', async () => {
    const { key } = org;
    expectSeedFields(
      await call('POST', '/api/v1/run', { key, body: { promptName: `p${NUL}` } }),
      'VALIDATION_ERROR',
      'promptName',
    );
    expectSeedFields(
      await call('POST', '/api/v1/run', { key, body: { promptName: prompt, variables: { who: LONE_HIGH } } }),
      'VALIDATION_ERROR',
      'variables.who',
    );
    expectSeedFields(
      await call('POST', '/v1/agents/%00/execute', { key, body: {} }),
      'VALIDATION_ERROR',
      'promptId',
    );
  });

  it('authentication still comes first', async () => {
    const res = await call('GET', '/v1/prompts/%00');
    expect(res.status).toBe(401);
  });
});

describe('paths: malformed percent-encoding → 400 VALIDATION_ERROR', () => {
  it.each(['%E0%A4%A', '%', '%zz', '%ED%A0%80'])('/v1/prompts/%s', async (id) => {
    const res = await call<ApiError>('GET', `/v1/prompts/${id}`, { key: org.key });
    expectFields(res, ['path']);
  });

  it('in the seed shape on the agents route; 404 on unknown routes; 401 without a key', async () => {
    const agent = await call('POST', '/v1/agents/%E0%A4%A/execute', { key: org.key, body: {} });
    expectSeedFields(agent, 'VALIDATION_ERROR', 'path');
    const unknown = await call<ApiError>('GET', '/v1/nope/%E0%A4%A', { key: org.key });
    expect(unknown.status).toBe(404);
    expect(unknown.body.error.code).toBe('NOT_FOUND');
    expect((await call('GET', '/v1/prompts/%E0%A4%A')).status).toBe(401);
  });
});

describe('integers past the database range → 400 naming the field', () => {
  it.each([2 ** 31, 1e11, 2 ** 53])('version %s in bodies', async (version) => {
    const { key } = org;
    expectFields(await call('PUT', `/v1/prompts/${prompt}/labels/x`, { key, body: { version } }), [
      'version',
    ]);
    expectFields(await call('POST', `/v1/prompts/${prompt}/render`, { key, body: { version } }), ['version']);
    expectFields(await call('POST', '/v1/runs', { key, body: { prompt, version } }), ['version']);
    expectSeedFields(
      await call('POST', '/api/v1/run', { key, body: { promptName: prompt, version } }),
      'VALIDATION_ERROR',
      'version',
    );
  });

  it.each(['2147483648', '1e11', '-0', 'NaN', '1.5'])('version %s in the path', async (n) => {
    expectFields(await call('GET', `/v1/prompts/${prompt}/versions/${n}`, { key: org.key }), ['n']);
  });

  it.each(['1e11', '2147483648', '-0', 'NaN', '0.5'])('page=%s', async (page) => {
    expectFields(await call('GET', `/v1/prompts?page=${page}`, { key: org.key }), ['page']);
    expectFields(await call('GET', `/v1/runs?page=${page}`, { key: org.key }), ['page']);
  });

  it('the last int4 page is fine (an empty page)', async () => {
    const res = await call<{ data: unknown[] }>('GET', '/v1/prompts?page=2147483647', { key: org.key });
    expect(res.status).toBe(200);
    expect(res.body.data).toEqual([]);
  });

  it('organization limit overrides (they reach an int4 counter)', async () => {
    const res = await call('POST', '/admin/v1/orgs', {
      headers: { authorization: `Bearer ${adminToken}` },
      body: { name: unique('org'), limits: { perMinute: 2 ** 31 } },
    });
    expectFields(res, ['limits.perMinute']);
  });
});

describe('dates outside 1970..9999 → 400 naming the field', () => {
  it.each([
    ['from', '0000-01-01T00:00:00Z'],
    ['to', '1969-12-31T23:59:59Z'],
    ['from', '9999-12-31T23:59:59-01:00'],
  ])('%s=%s', async (field, value) => {
    expectFields(await call('GET', `/v1/runs?${field}=${encodeURIComponent(value)}`, { key: org.key }), [
      field,
    ]);
  });

  it('the ends of the range are fine', async () => {
    const res = await call('GET', '/v1/runs?from=1970-01-01T00:00:00Z&to=9999-12-31T23:59:59Z', {
      key: org.key,
    });
    expect(res.status).toBe(200);
  });

  it('a key expiry in year 10000 or year 0 is refused', async () => {
    const late = await call('POST', '/v1/keys', {
      key: org.key,
      body: { name: 'k', expiresIn: '9999-12-31T23:59:59-23:59' },
    });
    expectFields(late, ['expiresIn']);
  });
});

describe('JSON nested deeper than 64 levels → 400 INVALID_JSON', () => {
  it('20,000 deep in metadata, variables or the body itself', async () => {
    const { key } = org;
    for (const body of [
      `{"prompt":"${prompt}","metadata":{"a":${nested(20_000)}}}`,
      `{"prompt":"${prompt}","variables":{"who":${nested(20_000)}}}`,
      nested(20_000),
    ]) {
      const res = await send('POST', '/v1/runs', key, body);
      expect(res.status, JSON.stringify(res.body).slice(0, 200)).toBe(400);
      expect(res.body).toMatchObject({
        error: { code: 'INVALID_JSON', message: expect.stringContaining('64') },
      });
    }
  });

  it('the seed shape on the sync route', async () => {
    const res = await send(
      'POST',
      '/api/v1/run',
      org.key,
      `{"promptName":"${prompt}","variables":{"who":${nested(20_000)}}}`,
    );
    expect(res.status).toBe(400);
    expect(res.body).toEqual({ success: false, code: 'INVALID_JSON', error: expect.stringContaining('64') });
  });

  it('64 levels are accepted, 65 are not', async () => {
    // the body object is level 1 and metadata level 2: 62 arrays inside make 64
    const ok = await send(
      'POST',
      '/v1/runs',
      org.key,
      `{"prompt":"${prompt}","variables":{"who":"x"},"metadata":{"a":${nested(61)}}}`,
    );
    expect(ok.status, JSON.stringify(ok.body)).toBe(202);
    const deep = await send(
      'POST',
      '/v1/runs',
      org.key,
      `{"prompt":"${prompt}","variables":{"who":"x"},"metadata":{"a":${nested(63)}}}`,
    );
    expect(deep.status).toBe(400);
    expect(deep.body).toMatchObject({ error: { code: 'INVALID_JSON' } });
  });
});

describe('Content-Encoding', () => {
  const garbage = new Uint8Array([0x1f, 0x8b, 1, 2, 3, 4, 5, 6, 7, 8]);

  it.each(['gzip', 'deflate', 'br'])('a corrupt %s body → 400 INVALID_JSON', async (encoding) => {
    const res = await send('POST', '/v1/prompts', org.key, garbage, { 'content-encoding': encoding });
    expect(res.status).toBe(400);
    expect(res.body).toEqual({
      error: { code: 'INVALID_JSON', message: 'Request body could not be decoded' },
    });
  });

  it('a truncated gzip body → 400 INVALID_JSON; in the seed shape on the sync route', async () => {
    const whole = gzipSync(JSON.stringify({ promptName: prompt, variables: { who: 'x' } }));
    const res = await send('POST', '/api/v1/run', org.key, whole.subarray(0, whole.length - 6), {
      'content-encoding': 'gzip',
    });
    expect(res.status).toBe(400);
    expect(res.body).toEqual({
      success: false,
      code: 'INVALID_JSON',
      error: 'Request body could not be decoded',
    });
  });

  it.each(['zstd', 'compress', 'gzip, br', 'x-unknown'])(
    '%s → 415 UNSUPPORTED_MEDIA_TYPE',
    async (encoding) => {
      const res = await send('POST', '/v1/prompts', org.key, garbage, { 'content-encoding': encoding });
      expect(res.status).toBe(415);
      expect(res.body).toMatchObject({ error: { code: 'UNSUPPORTED_MEDIA_TYPE' } });
    },
  );

  it('well-formed gzip, deflate and br bodies are accepted', async () => {
    const encoders = { gzip: gzipSync, deflate: deflateSync, br: brotliCompressSync };
    for (const [encoding, encode] of Object.entries(encoders)) {
      const name = unique(encoding);
      const res = await send('POST', '/v1/prompts', org.key, encode(JSON.stringify({ name })), {
        'content-encoding': encoding,
      });
      expect(res.status, JSON.stringify(res.body)).toBe(201);
      expect(res.body).toMatchObject({ data: { name } });
    }
  });

  it('a zip bomb is limited by MAX_BODY_BYTES after decoding → 413', async () => {
    const bomb = gzipSync(`{"name":"${'a'.repeat(5_000_000)}"}`);
    expect(bomb.length).toBeLessThan(100_000);
    const res = await send('POST', '/v1/prompts', org.key, bomb, { 'content-encoding': 'gzip' });
    expect(res.status).toBe(413);
    expect(res.body).toMatchObject({ error: { code: 'PAYLOAD_TOO_LARGE' } });
  });
});
