// Webhook delivery end to end, with real local receivers: run events from the outbox, both
// signatures, retries with the same webhook-id, the delivery log, disabled and unsubscribed
// endpoints, the test event, rotation's two signatures, manual retry, runs' own webhookUrl.
import { beforeAll, describe, expect, it } from 'vitest';
import { startDirectApi } from './direct-support.ts';
import { call, createOrg, createPrompt, type TestOrg, unique } from './helpers.ts';
import type { SyncOk } from './runs-support.ts';
import { pollRun } from './runs-support.ts';
import {
  createEndpoint,
  type Delivery,
  isHexSignatureValid,
  pollDeliveries,
  startReceiver,
  verifySvix,
} from './webhook-support.ts';

let org: TestOrg;
let promptName: string;

beforeAll(async () => {
  org = await createOrg({ plan: 'team' });
  promptName = await createPrompt(org.key, { template: 'Say hello to {{name}}' });
});

async function syncRun(name = 'Ada', prompt = promptName): Promise<SyncOk> {
  const res = await call<SyncOk>('POST', '/api/v1/run', {
    key: org.key,
    body: { promptName: prompt, variables: { name } },
  });
  return res.body;
}

describe('webhook delivery', () => {
  it('delivers prompt.executed for a sync run, signed both ways, with the payload API.md shows', async () => {
    const rx = await startReceiver();
    const ep = await createEndpoint(org.key, { url: rx.url, events: ['prompt.executed'] });
    const run = await syncRun();
    expect(run.success).toBe(true);
    const [hit] = await rx.waitFor((r) => r.json.data.execution_id === run.runId);
    verifySvix(hit!, ep.secret);
    expect(isHexSignatureValid(hit!, ep.secret)).toBe(true);
    expect(hit!.headers['webhook-id']).toMatch(/^msg_/);
    expect(hit!.headers['webhook-signature']).toMatch(/^v1,[A-Za-z0-9+/=]+$/);
    expect(hit!.json).toMatchObject({
      id: `evt_${run.runId.slice(4)}`,
      event: 'prompt.executed',
      api_version: '2026-11-01',
      data: {
        execution_id: run.runId,
        prompt_version: 1,
        prompt_name: promptName,
        status: 'succeeded',
        model: run.model,
        tokens_used: run.usage.totalTokens,
        cost: run.usage.cost,
        error: null,
      },
    });
    expect(hit!.json.data.prompt_id).toMatch(/^pmt_/);
    expect(Date.parse(hit!.json.created_at)).not.toBeNaN();
    // a tampered body or another secret does not verify
    expect(() =>
      verifySvix({ ...hit!, body: hit!.body.replace('succeeded', 'failed') }, ep.secret),
    ).toThrow();
    expect(isHexSignatureValid(hit!, `${ep.secret}x`)).toBe(false);
    const [delivery] = await pollDeliveries(org.key, ep.id, (d) => d[0]?.status === 'succeeded');
    expect(delivery).toMatchObject({
      id: hit!.headers['webhook-id'],
      event: 'prompt.executed',
      attemptCount: 1,
    });
    expect(delivery!.attempts[0]).toMatchObject({ attempt: 1, status: 'succeeded', responseStatus: 200 });
  });

  it('retries a failing receiver with the same webhook-id: two logged failures, then one success', async () => {
    const rx = await startReceiver((n) => (n < 2 ? 500 : 204));
    const ep = await createEndpoint(org.key, { url: rx.url, events: ['prompt.executed'] });
    const run = await syncRun('Grace');
    const hits = await rx.waitFor((r) => r.json.data.execution_id === run.runId, 3);
    expect(new Set(hits.map((h) => h.headers['webhook-id'])).size).toBe(1);
    for (const h of hits) verifySvix(h, ep.secret);
    // the schedule's first wait (1 s in this stack) lies between attempts
    expect(hits[1]!.at - hits[0]!.at).toBeGreaterThanOrEqual(900);
    const [d] = await pollDeliveries(org.key, ep.id, (ds) => ds[0]?.status === 'succeeded');
    expect(d!.attemptCount).toBe(3);
    expect(d!.attempts.map((a) => [a.attempt, a.status, a.responseStatus])).toEqual([
      [3, 'succeeded', 204],
      [2, 'failed', 500],
      [1, 'failed', 500],
    ]);
    await new Promise((r) => setTimeout(r, 1500));
    expect(rx.received.length).toBe(3);
  });

  it('sends nothing to a disabled endpoint or one not subscribed to the event', async () => {
    const subscribed = await startReceiver();
    const disabled = await startReceiver();
    const other = await startReceiver();
    await createEndpoint(org.key, { url: subscribed.url, events: ['prompt.executed'] });
    await createEndpoint(org.key, { url: disabled.url, events: ['prompt.executed'], enabled: false });
    await createEndpoint(org.key, { url: other.url, events: ['prompt.failed', 'team.member_added'] });
    const run = await syncRun('Linus');
    await subscribed.waitFor((r) => r.json.data.execution_id === run.runId);
    await new Promise((r) => setTimeout(r, 1500));
    expect(disabled.received).toHaveLength(0);
    expect(other.received.filter((r) => r.json.data.execution_id === run.runId)).toHaveLength(0);
  });

  it('delivers prompt.failed for a failed run and team.member_added for a new member', async () => {
    const rx = await startReceiver();
    await createEndpoint(org.key, { url: rx.url, events: ['prompt.failed', 'team.member_added'] });
    const failing = await createPrompt(org.key, { template: 'No [[mock:fail=400]] {{name}}' });
    const run = await call<{ success: false; code: string; runId?: string }>('POST', '/api/v1/run', {
      key: org.key,
      body: { promptName: failing, variables: { name: 'x' } },
    });
    expect(run.body.success).toBe(false);
    const [failed] = await rx.waitFor((r) => r.json.event === 'prompt.failed');
    expect(failed!.json.data).toMatchObject({ status: 'failed', prompt_name: failing });
    expect((failed!.json.data.error as { code: string }).code).toBe(run.body.code);
    const email = `${unique('m')}@example.test`;
    const added = await call<{ data: { id: string } }>('POST', '/v1/members', {
      key: org.key,
      body: { email },
    });
    expect(added.status).toBe(201);
    const [member] = await rx.waitFor((r) => r.json.event === 'team.member_added');
    expect(JSON.stringify(member!.json.data)).toContain(added.body.data.id);
  });

  it('POST /test sends webhook.test at once, also to a disabled endpoint', async () => {
    const rx = await startReceiver();
    const ep = await createEndpoint(org.key, { url: rx.url, events: ['prompt.failed'], enabled: false });
    const res = await call<{ data: Delivery }>('POST', `/v1/webhooks/${ep.id}/test`, { key: org.key });
    expect(res.status).toBe(202);
    const [hit] = await rx.waitFor((r) => r.json.event === 'webhook.test');
    expect(hit!.headers['webhook-id']).toBe(res.body.data.id);
    verifySvix(hit!, ep.secret);
    expect(isHexSignatureValid(hit!, ep.secret)).toBe(true);
  });

  it('after a rotation signs with both secrets (X-Promptmill-Signature with the new one)', async () => {
    const rx = await startReceiver();
    const ep = await createEndpoint(org.key, { url: rx.url, events: ['prompt.executed'] });
    const rotated = await call<{ data: { secret: string } }>('POST', `/v1/webhooks/${ep.id}/rotate-secret`, {
      key: org.key,
    });
    const fresh = rotated.body.data.secret;
    const run = await syncRun('Rosa');
    const [hit] = await rx.waitFor((r) => r.json.data.execution_id === run.runId);
    expect(String(hit!.headers['webhook-signature']).split(' ')).toHaveLength(2);
    verifySvix(hit!, ep.secret);
    verifySvix(hit!, fresh);
    expect(isHexSignatureValid(hit!, fresh)).toBe(true);
    expect(isHexSignatureValid(hit!, ep.secret)).toBe(false);
  });

  it('gives up after the schedule, shows no next retry, and a manual retry delivers with the same webhook-id', async () => {
    let up = false;
    const rx = await startReceiver(() => (up ? 200 : 503));
    const ep = await createEndpoint(org.key, { url: rx.url, events: ['prompt.executed'] });
    const run = await syncRun('Alan');
    // mid-way, the log shows the next retry time
    const [pending] = await pollDeliveries(org.key, ep.id, (d) => (d[0]?.attemptCount ?? 0) >= 1);
    if (pending!.status === 'pending') expect(Date.parse(String(pending!.nextAttemptAt))).toBeGreaterThan(0);
    const [given] = await pollDeliveries(org.key, ep.id, (d) => d[0]?.status === 'failed');
    expect(given).toMatchObject({ attemptCount: 4, nextAttemptAt: null });
    expect(given!.attempts.every((a) => a.responseStatus === 503 && a.error === 'HTTP 503')).toBe(true);
    up = true;
    const retried = await call('POST', `/v1/webhooks/deliveries/${given!.id}/retry`, { key: org.key });
    expect(retried.status).toBe(202);
    const [done] = await pollDeliveries(org.key, ep.id, (d) => d[0]?.status === 'succeeded');
    expect(done!.attemptCount).toBe(5);
    const ids = new Set(
      rx.received.filter((r) => r.json.data.execution_id === run.runId).map((r) => r.headers['webhook-id']),
    );
    expect([...ids]).toEqual([given!.id]);
    expect((await call('POST', '/v1/webhooks/deliveries/msg_nope/retry', { key: org.key })).status).toBe(404);
  });

  it("sends an async run's final event to its own webhookUrl, signed with the org's default secret", async () => {
    const rx = await startReceiver();
    const secret = await call<{ data: { secret: string } }>('GET', '/v1/webhooks/default-secret', {
      key: org.key,
    });
    const res = await call<{ data: { id: string } }>('POST', '/v1/runs', {
      key: org.key,
      body: { prompt: promptName, variables: { name: 'Barbara' }, webhookUrl: `${rx.url}?run=1` },
    });
    expect(res.status).toBe(202);
    await pollRun(org.key, res.body.data.id);
    const [hit] = await rx.waitFor((r) => r.json.data.execution_id === res.body.data.id);
    expect(hit!.path).toBe('/hooks?run=1');
    expect(hit!.json.event).toBe('prompt.executed');
    verifySvix(hit!, secret.body.data.secret);
    expect(isHexSignatureValid(hit!, secret.body.data.secret)).toBe(true);
  });

  it('delivers prompt.executed for a direct-mode run too (its completion writes the event the same way)', async () => {
    const direct = await startDirectApi();
    try {
      const rx = await startReceiver();
      const ep = await createEndpoint(org.key, { url: rx.url, events: ['prompt.executed'] });
      const res = await call<SyncOk>('POST', '/api/v1/run', {
        baseUrl: direct.url,
        key: org.key,
        body: { promptName, variables: { name: 'Direct' } },
      });
      expect(res.status).toBe(200);
      const run = await call<{ data: { mode: string } }>('GET', `/v1/runs/${res.body.runId}`, {
        key: org.key,
      });
      expect(run.body.data.mode).toBe('direct');
      const [hit] = await rx.waitFor((r) => r.json.data.execution_id === res.body.runId);
      verifySvix(hit!, ep.secret);
      expect(hit!.json.data).toMatchObject({ status: 'succeeded', tokens_used: res.body.usage.totalTokens });
    } finally {
      await direct.stop();
    }
  }, 120_000);
});
