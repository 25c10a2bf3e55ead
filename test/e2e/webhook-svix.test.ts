// Svix mode (SVIX_TOKEN, SVIX_SERVER_URL): endpoint messages are handed to Svix — one application per
// organization, the endpoint mirrored with its whsec_ secret, one Svix message per Promptmill message
// (eventId = msg id) — and the delivery log and retries are Svix's. Against a stand-in Svix server.
// This file starts its OWN stack (Svix mode is per deployment).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { unique } from './helpers.ts';
import { type OwnStack, startOwnStack } from './own-stack.ts';
import { type SvixStandin, startSvixStandin } from './svix-standin.ts';
import { type Delivery, startReceiver, verifySvix } from './webhook-support.ts';

const svixToken = 'testsk_promptmill_standin_token';
let own: OwnStack;
let svix: SvixStandin;
let orgId: string;
let api: OwnStack['api'];

beforeAll(async () => {
  svix = await startSvixStandin(svixToken);
  own = await startOwnStack({
    name: 'webhook-svix',
    env: { SVIX_TOKEN: svixToken, SVIX_SERVER_URL: svix.url },
    plan: 'team',
  });
  ({ orgId, api } = own);
}, 180_000);

afterAll(async () => {
  await own?.stop();
  await svix?.close();
});

async function until<T>(check: () => Promise<T | undefined> | T | undefined, what: string): Promise<T> {
  const deadline = Date.now() + 20_000;
  for (;;) {
    const v = await check();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe('Svix mode', () => {
  it('hands each message to Svix (app per org, mirrored endpoint and secret, eventId = msg id) and reads its attempts', async () => {
    const rx = await startReceiver();
    const ep = await api<{ data: { id: string; secret: string } }>('POST', '/v1/webhooks', {
      url: rx.url,
      events: ['prompt.executed'],
    });
    expect(ep.status).toBe(201);
    const { id: endpointId, secret } = ep.body.data;
    const name = unique('svix-prompt');
    expect((await api('POST', '/v1/prompts', { name })).status).toBe(201);
    await api('POST', `/v1/prompts/${name}/versions`, {
      template: 'Hello',
      model: 'mock-1',
      labels: ['production'],
    });
    const run = await api<{ runId: string }>('POST', '/api/v1/run', { promptName: name });
    expect(run.status).toBe(200);

    // the stand-in delivered it, signed with the endpoint's own whsec_ secret
    const [hit] = await rx.waitFor((r) => r.json.data.execution_id === run.body.runId);
    verifySvix(hit!, secret);
    expect(hit!.json).toMatchObject({ event: 'prompt.executed', api_version: '2026-11-01' });
    const app = [...svix.apps.values()].find((a) => a.uid === orgId);
    expect(app).toBeDefined();
    const mirrored = svix.endpoints.get(app!.id)!.find((e) => e.uid === endpointId)!;
    expect(mirrored).toMatchObject({ url: rx.url, channels: [endpointId], secret });
    const message = svix.messages.get(app!.id)!.find((m) => m.eventType === 'prompt.executed')!;
    expect(message.eventId).toMatch(/^msg_/);
    expect(message.channels).toEqual([endpointId]);

    // the delivery log is Svix's attempts
    const log = await until(async () => {
      const res = await api<{ data: Delivery[] }>('GET', `/v1/webhooks/${endpointId}/deliveries`);
      const d = res.body.data?.[0];
      return d?.status === 'succeeded' ? d : undefined;
    }, 'a succeeded delivery');
    expect(log.id).toBe(message.eventId);
    expect(log.attempts).toHaveLength(1);
    expect(log.attempts[0]).toMatchObject({ status: 'succeeded', responseStatus: 200 });

    // a retry is Svix's resend: a second attempt of the same Svix message
    const retried = await api('POST', `/v1/webhooks/deliveries/${log.id}/retry`);
    expect(retried.status, retried.text).toBe(202);
    const hits = await rx.waitFor((r) => r.json.data.execution_id === run.body.runId, 2);
    expect(hits[1]!.headers['webhook-id']).toBe(hits[0]!.headers['webhook-id']);
    await until(async () => {
      const res = await api<{ data: Delivery[] }>('GET', `/v1/webhooks/${endpointId}/deliveries`);
      return res.body.data[0]?.attemptCount === 2 ? true : undefined;
    }, 'two attempts in the log');
    expect(
      svix.calls.some((c) => c.method === 'POST' && c.path.endsWith(`/endpoint/${endpointId}/resend`)),
    ).toBe(true);
  }, 60_000);

  it('mirrors a rotated secret before the next message', async () => {
    const rx = await startReceiver();
    const ep = await api<{ data: { id: string } }>('POST', '/v1/webhooks', {
      url: rx.url,
      events: ['team.member_added'],
    });
    await api('POST', '/v1/members', { email: `${unique('a')}@example.test` });
    await rx.waitFor((r) => r.json.event === 'team.member_added');
    const rotated = await api<{ data: { secret: string } }>(
      'POST',
      `/v1/webhooks/${ep.body.data.id}/rotate-secret`,
    );
    const email = `${unique('b')}@example.test`;
    await api('POST', '/v1/members', { email });
    const [hit] = await rx.waitFor((r) => r.body.includes(email));
    verifySvix(hit!, rotated.body.data.secret);
  }, 60_000);
});
