// The SSRF guard at save time, on an api process with the default WEBHOOK_ALLOW_PRIVATE=false (the
// shared stack allows private targets for its local receivers). Send-time refusal: send.test.ts.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { call, createOrg, type TestOrg } from './helpers.ts';
import { type ExtraApi, startExtraApi } from './limits-support.ts';

let api: ExtraApi;
let org: TestOrg;

beforeAll(async () => {
  api = await startExtraApi({ WEBHOOK_ALLOW_PRIVATE: 'false' });
  org = await createOrg({ plan: 'team' });
}, 120_000);

afterAll(() => api?.stop());

const create = (url: string) =>
  call<{ error: { code: string; details: { field: string; message: string }[] } }>('POST', '/v1/webhooks', {
    baseUrl: api.url,
    key: org.key,
    body: { url, events: ['prompt.executed'] },
  });

describe('webhook URL guard (WEBHOOK_ALLOW_PRIVATE=false)', () => {
  it.each([
    ['https://localhost:8443/hook', /127\.0\.0\.1|::1/],
    ['https://127.0.0.1/hook', /loopback/],
    ['https://2130706433/hook', /loopback/],
    ['https://[::1]/hook', /loopback/],
    ['https://[::ffff:127.0.0.1]/hook', /loopback/],
    ['https://10.0.0.8/hook', /private/],
    ['https://192.168.1.20/hook', /private/],
    ['https://169.254.169.254/latest/meta-data', /linkLocal/],
    ['https://[fd00:ec2::254]/hook', /uniqueLocal/],
    ['https://[fe80::1]/hook', /linkLocal/],
    ['https://224.0.0.1/hook', /multicast/],
    ['https://0.0.0.0/hook', /unspecified/],
    ['http://93.184.215.14/hook', /https/],
    ['https://no-such-host.invalid/hook', /does not resolve/],
  ])('refuses %s with 400 naming url', async (url, reason) => {
    const res = await create(url);
    expect(res.status).toBe(400);
    expect(res.body.error.code).toBe('VALIDATION_ERROR');
    expect(res.body.error.details[0]!.field).toBe('url');
    expect(res.body.error.details[0]!.message).toMatch(reason);
  });

  it('accepts a public https address, and refuses changing it to a private one', async () => {
    const ok = await call<{ data: { id: string } }>('POST', '/v1/webhooks', {
      baseUrl: api.url,
      key: org.key,
      body: { url: 'https://93.184.215.14/hook', events: ['prompt.executed'] },
    });
    expect(ok.status).toBe(201);
    const patched = await call<{ error: { code: string } }>('PATCH', `/v1/webhooks/${ok.body.data.id}`, {
      baseUrl: api.url,
      key: org.key,
      body: { url: 'https://localhost/x' },
    });
    expect(patched.status).toBe(400);
    const still = await call<{ data: { url: string } }>('GET', `/v1/webhooks/${ok.body.data.id}`, {
      baseUrl: api.url,
      key: org.key,
    });
    expect(still.body.data.url).toBe('https://93.184.215.14/hook');
  });

  it("refuses an async run's private webhookUrl", async () => {
    const res = await call<{ error: { code: string; details: { field: string }[] } }>('POST', '/v1/runs', {
      baseUrl: api.url,
      key: org.key,
      body: { prompt: 'anything', variables: {}, webhookUrl: 'https://localhost/steal' },
    });
    expect(res.status).toBe(400);
    expect(res.body.error.details[0]!.field).toBe('webhookUrl');
  });

  it("refuses a chain run's private webhookUrl", async () => {
    const res = await call<{ error: { code: string; details: { field: string }[] } }>(
      'POST',
      '/v1/workflows/anything/runs',
      {
        baseUrl: api.url,
        key: org.key,
        body: { input: {}, webhookUrl: 'https://[::ffff:169.254.169.254]/x' },
      },
    );
    expect(res.status).toBe(400);
    expect(res.body.error.details[0]!.field).toBe('webhookUrl');
  });
});
