// The SDK's chains, webhooks, usage and alerts methods against the real stack, per API.md. Each test
// first checks the served OpenAPI document has its routes and fails (not skips) with the missing ones.
import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Promptmill, verifyWebhook, WebhookVerificationError } from '../../sdk/src/index.ts';
import { createOrg, createPrompt, type TestOrg } from './helpers.ts';
import { missingRoutes, sdk } from './sdk-support.ts';

let org: TestOrg;
let pm: Promptmill;

beforeAll(async () => {
  org = await createOrg({ plan: 'enterprise' });
  pm = sdk(org.key);
});

/** A local endpoint that records deliveries as raw bytes + headers. */
function receiver() {
  const deliveries: Array<{ body: Buffer; headers: IncomingHttpHeaders }> = [];
  const waiting: Array<() => void> = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      deliveries.push({ body: Buffer.concat(chunks), headers: req.headers });
      res.writeHead(204).end();
      for (const w of waiting.splice(0)) w();
    });
  });
  const ready = new Promise<string>((resolve) =>
    server.listen(0, '127.0.0.1', () =>
      resolve(`http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`),
    ),
  );
  return {
    ready,
    deliveries,
    async next(timeoutMs = 20_000) {
      const deadline = Date.now() + timeoutMs;
      const seen = deliveries.length;
      while (deliveries.length === seen) {
        if (Date.now() > deadline) throw new Error('no webhook delivery');
        await new Promise<void>((r) => {
          waiting.push(r);
          setTimeout(r, 200);
        });
      }
      return deliveries.at(-1)!;
    },
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}

describe('SDK: webhooks', () => {
  const hook = receiver();
  afterAll(() => hook.close());

  it('creates an endpoint, receives a real signed delivery and verifies it with verifyWebhook', async () => {
    const reason = await missingRoutes(['POST', '/v1/webhooks'], ['POST', '/v1/webhooks/{id}/test']);
    expect(reason).toBeUndefined(); // every group is on main: a missing route fails, it is not skipped
    const url = await hook.ready;
    const endpoint = await pm.webhooks.create({ url, events: ['prompt.executed', 'prompt.failed'] });
    expect(endpoint.secret).toMatch(/^whsec_/);
    expect((await pm.webhooks.get(endpoint.id)).url).toBe(url);
    expect((await pm.webhooks.list()).data.map((w) => w.id)).toContain(endpoint.id);

    await pm.webhooks.test(endpoint.id);
    const delivery = await hook.next();
    const event = await verifyWebhook(
      delivery.body,
      delivery.headers as Record<string, string>,
      endpoint.secret!,
    );
    expect(event.event).toBe('webhook.test');
    // both schemes are on a real delivery, and each verifies on its own
    const { 'webhook-signature': _std, ...legacyOnly } = delivery.headers as Record<string, string>;
    expect(legacyOnly['x-promptmill-signature']).toMatch(/^sha256=[0-9a-f]{64}$/);
    await expect(verifyWebhook(delivery.body, legacyOnly, endpoint.secret!)).resolves.toMatchObject({
      id: event.id,
    });
    const tampered = Buffer.from(delivery.body.toString().replace('webhook.test', 'webhook.tesT'));
    await expect(
      verifyWebhook(tampered, delivery.headers as Record<string, string>, endpoint.secret!),
    ).rejects.toBeInstanceOf(WebhookVerificationError);

    // a run's prompt.executed event arrives signed too
    const name = await createPrompt(org.key, { template: 'hooked' });
    const run = await pm.runs.createAndWait({ prompt: name });
    const executed = await hook.next();
    const payload = await verifyWebhook<{ execution_id: string }>(
      executed.body,
      executed.headers as Record<string, string>,
      endpoint.secret!,
    );
    expect(payload).toMatchObject({ event: 'prompt.executed', data: { execution_id: run.id } });

    const deliveries = await pm.webhooks.deliveries(endpoint.id);
    expect(deliveries.data.length).toBeGreaterThanOrEqual(2);
    // a manual retry sends the same message again (same webhook-id), still verifiable
    const tested = deliveries.data.find((d) => d.event === 'webhook.test')!;
    const retried = await pm.webhooks.retryDelivery(tested.id);
    expect(retried.id).toBe(tested.id);
    const again = await hook.next();
    expect(again.headers['webhook-id']).toBe(tested.id);
    await expect(
      verifyWebhook(again.body, again.headers as Record<string, string>, endpoint.secret!),
    ).resolves.toMatchObject({ id: event.id, event: 'webhook.test' });

    const rotated = await pm.webhooks.rotateSecret(endpoint.id);
    expect(rotated.secret).toMatch(/^whsec_/);
    expect(rotated.secret).not.toBe(endpoint.secret);
    expect((await pm.webhooks.update(endpoint.id, { enabled: false })).enabled).toBe(false);
    expect((await pm.webhooks.delete(endpoint.id)).id).toBe(endpoint.id);
    await expect(pm.webhooks.get(endpoint.id)).rejects.toMatchObject({
      status: 404,
      code: 'WEBHOOK_NOT_FOUND',
    });
  });
});

describe("SDK: a run's own webhookUrl", () => {
  const hook = receiver();
  afterAll(() => hook.close());

  it('is signed with the default secret (webhooks.defaultSecret), both schemes', async () => {
    const reason = await missingRoutes(['GET', '/v1/webhooks/default-secret']);
    expect(reason).toBeUndefined();
    const secret = await pm.webhooks.defaultSecret();
    expect(secret).toMatch(/^whsec_/);
    expect(await pm.webhooks.defaultSecret()).toBe(secret);
    const name = await createPrompt(org.key, { template: 'own hook' });
    const started = await pm.runs.start({ prompt: name, webhookUrl: await hook.ready });
    const d = await hook.next();
    const headers = d.headers as Record<string, string>;
    const payload = await verifyWebhook<{ execution_id: string }>(d.body, headers, secret);
    expect(payload).toMatchObject({ event: 'prompt.executed', data: { execution_id: started.id } });
    const { 'webhook-signature': _std, ...legacyOnly } = headers;
    await expect(verifyWebhook(d.body, legacyOnly, secret)).resolves.toMatchObject({ id: payload.id });
    const { 'x-promptmill-signature': _legacy, ...standardOnly } = headers;
    await expect(verifyWebhook(d.body, standardOnly, secret)).resolves.toMatchObject({ id: payload.id });
    await expect(verifyWebhook(d.body, headers, `whsec_${'A'.repeat(32)}`)).rejects.toBeInstanceOf(
      WebhookVerificationError,
    );
  });
});

describe('SDK: chains', () => {
  it('creates a two-step chain, runs it and waits for its output', async () => {
    const reason = await missingRoutes(['POST', '/v1/workflows'], ['POST', '/v1/workflows/{id}/runs']);
    expect(reason).toBeUndefined(); // every group is on main: a missing route fails, it is not skipped
    const first = await createPrompt(org.key, { template: 'first {{topic}}' });
    const second = await createPrompt(org.key, { template: 'second {{previous}}' });
    const wf = await pm.workflows.create({
      name: `chain-${first}`,
      input: [{ name: 'topic' }],
      steps: [
        { id: 'a', prompt: first, variables: { topic: '{{input.topic}}' } },
        { id: 'b', prompt: second, variables: { previous: '{{steps.a.output}}' }, dependsOn: ['a'] },
      ],
    });
    expect(wf.id).toMatch(/^wf_/);
    expect((await pm.workflows.get(wf.id)).steps).toHaveLength(2);
    expect((await pm.workflows.list()).data.map((w) => w.id)).toContain(wf.id);
    const started = await pm.workflows.run(wf.id, { input: { topic: 'cats' } });
    expect(started).toMatchObject({ id: expect.stringMatching(/^wfr_/), run: null, replayed: false });
    const done = await pm.workflows.waitRun(started.id, { deadlineMs: 30_000 });
    expect(done).toMatchObject({ status: 'succeeded', output: 'Echo: second Echo: first cats' });
    expect(done.steps.map((s) => [s.id, s.status])).toEqual([
      ['a', 'succeeded'],
      ['b', 'succeeded'],
    ]);
    expect((await pm.workflows.runs(wf.id)).data.map((r) => r.id)).toEqual([started.id]);
    expect((await pm.workflows.listRuns({ workflow: wf.id })).data.map((r) => r.id)).toEqual([started.id]);
    const stepRuns = await pm.runs.list({ chainRun: started.id });
    expect(stepRuns.data.map((r) => r.chainRunId)).toEqual([started.id, started.id]);
    const waited = await pm.workflows.run(wf.id, { input: { topic: 'dogs' } }, { wait: 30 });
    expect(waited.run).toMatchObject({ status: 'succeeded', output: 'Echo: second Echo: first dogs' });
    await expect(pm.workflows.cancelRun(started.id)).rejects.toMatchObject({ status: 409 });
    await pm.workflows.delete(wf.id);
    await expect(pm.workflows.get(wf.id)).rejects.toMatchObject({ status: 404, code: 'WORKFLOW_NOT_FOUND' });
  });
});

describe('SDK: usage, billing, alerts', () => {
  it('reads usage grouped by prompt after a run', async () => {
    const reason = await missingRoutes(['GET', '/v1/usage']);
    expect(reason).toBeUndefined(); // every group is on main: a missing route fails, it is not skipped
    const name = await createPrompt(org.key, { template: 'usage' });
    const { runId } = await pm.run(name);
    await pm.runs.get(runId);
    const usage = await pm.usage({ groupBy: 'prompt', granularity: 'hour' });
    expect(usage).toMatchObject({ groupBy: 'prompt', granularity: 'hour' });
    expect(usage.buckets.length).toBeGreaterThanOrEqual(24);
    const group = usage.groups.find((g) => g.name === name);
    expect(group?.totals).toMatchObject({ requests: 1, errors: 0 });
    expect(group!.totals.totalTokens).toBeGreaterThan(0);
    expect(usage.totals.requests).toBeGreaterThanOrEqual(1);
  });

  it('reads billing and per-key analytics', async () => {
    const reason = await missingRoutes(['GET', '/v1/billing'], ['GET', '/v1/keys/{id}/analytics']);
    expect(reason).toBeUndefined(); // every group is on main: a missing route fails, it is not skipped
    const billing = await pm.billing();
    expect(billing).toMatchObject({ plan: 'enterprise', billingStatus: 'active' });
    expect(billing.usage.runs).toBeGreaterThanOrEqual(0);
    const analytics = await pm.keys.analytics(org.keyId, { granularity: 'day' });
    expect(analytics).toMatchObject({ key: { id: org.keyId }, granularity: 'day' });
    expect(analytics.buckets.length).toBeGreaterThanOrEqual(1);
  });

  it('creates, reads, updates, lists and deletes alert rules', async () => {
    const reason = await missingRoutes(
      ['POST', '/v1/alerts'],
      ['GET', '/v1/alerts'],
      ['GET', '/v1/alerts/{id}'],
      ['PATCH', '/v1/alerts/{id}'],
      ['DELETE', '/v1/alerts/{id}'],
    );
    expect(reason).toBeUndefined(); // every group is on main: a missing route fails, it is not skipped
    const alert = await pm.alerts.create({ type: 'error_rate', name: 'errors' });
    expect(alert).toMatchObject({
      id: expect.stringMatching(/^alr_/),
      type: 'error_rate',
      thresholdPercent: 5,
    });
    const cost = await pm.alerts.create({ type: 'cost_threshold', amountUsd: 12.5 });
    expect(cost.amountUsd).toBe(12.5);
    expect(await pm.alerts.get(alert.id)).toMatchObject({ name: 'errors' });
    expect(await pm.alerts.update(alert.id, { enabled: false })).toMatchObject({ enabled: false });
    expect((await pm.alerts.list()).data.map((a) => a.id)).toEqual(
      expect.arrayContaining([alert.id, cost.id]),
    );
    await pm.alerts.delete(alert.id);
    await expect(pm.alerts.get(alert.id)).rejects.toMatchObject({ status: 404 });
    const bad = await pm.alerts.create({ type: 'cost_threshold', amountUsd: -1 }).catch((e: unknown) => e);
    expect(bad).toMatchObject({ status: 400, code: 'VALIDATION_ERROR' });
  });
});
