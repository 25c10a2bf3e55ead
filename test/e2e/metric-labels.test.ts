// Prometheus labels are bounded (hardening item 14): prompt labels are `<org tag>/<name>`, at most
// 50 per organization per worker process (then `<org tag>/other`), so two organizations' prompts of
// one name stay apart; a model the deployment does not know is `other`; the api's route label is
// always a route template or `unmatched`, never a raw path.

import { createHash, randomUUID } from 'node:crypto';
import { beforeAll, describe, expect, inject, it } from 'vitest';
import { call, createOrg, createPrompt, type TestOrg, unique } from './helpers.ts';

const scrape = async () => (await fetch(`${inject('workerMetricsUrl')}`)).text();
const tagOf = (orgId: string) => createHash('sha256').update(orgId).digest('hex').slice(0, 8);

/** Runs of an organization the worker's promptmill_runs_total has counted. */
function runsCounted(text: string, tag: string): number {
  let n = 0;
  for (const line of text.split('\n')) {
    if (line.startsWith('promptmill_runs_total{') && line.includes(`prompt="${tag}/`)) {
      n += Number(line.slice(line.lastIndexOf(' ') + 1));
    }
  }
  return n;
}

/**
 * The worker's metrics once they count `runs` runs of each organization: a sync run answers when its
 * completion commits, and the worker records its metrics just after.
 */
async function workerMetrics(runs: Record<string, number> = {}): Promise<string> {
  let text = '';
  await expect
    .poll(async () => {
      text = await scrape();
      return Object.entries(runs).every(([tag, n]) => runsCounted(text, tag) >= n);
    })
    .toBe(true);
  return text;
}

/** Distinct values of `label` in the series of `metric`. */
function labelValues(text: string, metric: string, label: string): Set<string> {
  const values = new Set<string>();
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${metric}{`)) continue;
    const m = new RegExp(`[{,]${label}="([^"]*)"`).exec(line);
    if (m?.[1] !== undefined) values.add(m[1]);
  }
  return values;
}

const UNLIMITED = { plan: 'enterprise', limits: { perMinute: 100_000, perDay: 1_000_000 } };

async function runOnce(key: string, promptName: string): Promise<void> {
  const res = await call('POST', '/api/v1/run', { key, body: { promptName, variables: {} } });
  if (res.status !== 200) throw new Error(`run ${promptName}: ${res.status} ${res.text}`);
}

describe('worker metrics: prompt and model labels', () => {
  let org: TestOrg;
  beforeAll(async () => {
    org = await createOrg(UNLIMITED);
  });

  it('GET /v1/me shows the organization its metrics tag: the first 8 hex of sha256(org id)', async () => {
    const me = await call<{ data: { organization: { metricsTag: string } } }>('GET', '/v1/me', {
      key: org.key,
    });
    expect(me.status).toBe(200);
    expect(me.body.data.organization.metricsTag).toBe(tagOf(org.orgId));
  });

  it('runs of 60 distinct prompts in one organization give at most 51 prompt label values', async () => {
    const prefix = unique('lbl');
    const names: string[] = [];
    for (let i = 0; i < 60; i++)
      names.push(await createPrompt(org.key, { template: `hi ${i}` }, { name: `${prefix}-${i}` }));
    for (let i = 0; i < names.length; i += 10)
      await Promise.all(names.slice(i, i + 10).map((n) => runOnce(org.key, n)));
    const tag = tagOf(org.orgId);
    const text = await workerMetrics({ [tag]: 60 });
    const prompts = [...labelValues(text, 'promptmill_runs_total', 'prompt')].filter((p) =>
      p.startsWith(`${tag}/`),
    );
    console.log(`[metric-labels] 60 prompts of one org → ${prompts.length} prompt label values`);
    expect(prompts.length).toBeLessThanOrEqual(51);
    expect(prompts.length).toBeGreaterThanOrEqual(50);
    expect(prompts).toContain(`${tag}/other`);
    for (const metric of [
      'promptmill_run_duration_seconds_count',
      'promptmill_tokens_total',
      'promptmill_cost_usd_total',
    ]) {
      const values = [...labelValues(text, metric, 'prompt')].filter((p) => p.startsWith(`${tag}/`));
      expect(values.length).toBeLessThanOrEqual(51);
    }
    expect(text).not.toContain(org.orgId);
  });

  it("two organizations' prompts of one name are two series", async () => {
    const [one, other] = await Promise.all([createOrg(UNLIMITED), createOrg(UNLIMITED)]);
    const name = unique('same-name');
    await createPrompt(one.key, { template: 'a' }, { name });
    await createPrompt(other.key, { template: 'b' }, { name });
    await runOnce(one.key, name);
    await runOnce(other.key, name);
    const counted = { [tagOf(one.orgId)]: 1, [tagOf(other.orgId)]: 1 };
    const prompts = labelValues(await workerMetrics(counted), 'promptmill_runs_total', 'prompt');
    expect(prompts).toContain(`${tagOf(one.orgId)}/${name}`);
    expect(prompts).toContain(`${tagOf(other.orgId)}/${name}`);
    expect(prompts).not.toContain(name);
  });

  it('a model the deployment does not know is `other`; a priced one keeps its name', async () => {
    const invented = `tenant-model-${randomUUID().slice(0, 8)}`;
    const name = await createPrompt(org.key, { template: 'x', model: invented });
    const before = runsCounted(await scrape(), tagOf(org.orgId));
    await runOnce(org.key, name);
    const text = await workerMetrics({ [tagOf(org.orgId)]: before + 1 });
    expect(text).not.toContain(invented);
    const models = labelValues(text, 'promptmill_runs_total', 'model');
    expect(models).toContain('other');
    expect(models).toContain('mock-1');
    const latency = labelValues(text, 'promptmill_provider_latency_seconds_count', 'model');
    expect(latency).toContain('other');
    expect([...latency].some((m) => m.startsWith('tenant-'))).toBe(false);
  });
});

describe('api metrics: the route label', () => {
  it('is a route template of the route table or `unmatched`, for 404s, aliases, refusals and odd paths', async () => {
    const org = await createOrg(UNLIMITED);
    const marker = randomUUID().replaceAll('-', '');
    const requests: [string, string, Record<string, unknown>?][] = [
      ['GET', `/v1/prompts/${marker}`, { key: org.key }],
      ['GET', `/api/v1/prompts/${marker}`, { key: org.key }],
      ['GET', `/v1/prompts/${marker}`],
      ['GET', `/v1/${marker}`, { key: org.key }],
      ['GET', `/api/v1/${marker}/x`, { key: org.key }],
      ['GET', `/${marker}`],
      ['GET', `/v1/prompts/%E0%A4%A${marker}`, { key: org.key }],
      [
        'POST',
        '/oauth/token',
        {
          body: `grant_type=client_credentials&client_id=${marker}&client_secret=x`,
          headers: { 'content-type': 'application/x-www-form-urlencoded' },
        },
      ],
      [
        'POST',
        '/oauth/token',
        { body: `grant_type=${marker}`, headers: { 'content-type': 'application/x-www-form-urlencoded' } },
      ],
      ['GET', `/admin/v1/orgs/${marker}`],
      [
        'GET',
        `/admin/v1/orgs/${marker}`,
        { headers: { authorization: 'Bearer e2e-admin-token-0123456789' } },
      ],
      [
        'OPTIONS',
        `/v1/prompts/${marker}`,
        { headers: { origin: 'https://a.example', 'access-control-request-method': 'GET' } },
      ],
      ['HEAD', `/v1/runs/run_${marker}`, { key: org.key }],
      ['DELETE', `/v1/prompts/${marker}/versions/1`, { key: org.key }],
      ['POST', `/v1/runs/run_${marker}/cancel`, { key: org.key }],
      ['GET', `/docs/${marker}.js`],
    ];
    for (const [method, path, opts] of requests) await call(method, path, opts ?? {});
    const text = (await call('GET', '/metrics')).text;
    const routes = labelValues(text, 'promptmill_http_requests_total', 'route');
    expect(text).not.toContain(marker);

    const doc = (await call<{ paths: Record<string, unknown> }>('GET', '/openapi.json')).body;
    const documented = new Set(Object.keys(doc.paths));
    const openapi = (p: string) => p.replace(/:([A-Za-z_]+)/g, '{$1}');
    const isTemplate = (route: string) =>
      documented.has(openapi(route)) ||
      documented.has(openapi(route.replace(/^\/api\/v1\//, '/v1/'))) ||
      documented.has(openapi(`/api${route}`));
    const odd = [...routes].filter((r) => r !== 'unmatched' && !isTemplate(r));
    // served but not operations of the document: the spec itself, its page, metrics
    expect(odd.filter((r) => !['/openapi.json', '/docs', '/metrics'].includes(r))).toEqual([]);
    expect(routes).toContain('unmatched');
    expect(routes).toContain('/v1/prompts/:idOrName');
  });
});
