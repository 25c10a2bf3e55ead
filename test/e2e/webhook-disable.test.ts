// An endpoint whose deliveries have all failed for WEBHOOK_DISABLE_AFTER_SECONDS (5 days; 8 s in the
// e2e stack) is disabled, and webhook.endpoint_disabled says so; enabling it again resumes deliveries.
import { beforeAll, describe, expect, it } from 'vitest';
import { call, createOrg, createPrompt, type TestOrg } from './helpers.ts';
import { createEndpoint, pollDeliveries, startReceiver } from './webhook-support.ts';

const DISABLE_AFTER_MS = 8_000;
let org: TestOrg;
let promptName: string;

beforeAll(async () => {
  org = await createOrg({ plan: 'team' });
  promptName = await createPrompt(org.key, { template: 'Hi {{name}}' });
});

const run = async (name: string) => {
  const res = await call<{ runId: string }>('POST', '/api/v1/run', {
    key: org.key,
    body: { promptName, variables: { name } },
  });
  expect(res.status).toBe(200);
  return res.body.runId;
};

describe('auto-disable', () => {
  it('disables an endpoint failing for the whole period, announces it, and resumes when enabled again', async () => {
    let up = false;
    const failing = await startReceiver(() => (up ? 200 : 500));
    const watcher = await startReceiver();
    const ep = await createEndpoint(org.key, { url: failing.url, events: ['prompt.executed'] });
    await createEndpoint(org.key, { url: watcher.url, events: ['webhook.endpoint_disabled'] });

    const first = await run('one');
    const [firstFailure] = await failing.waitFor((r) => r.json.data.execution_id === first);
    await pollDeliveries(org.key, ep.id, (d) => d[0]?.status === 'failed');
    // still enabled: its failures have not lasted the period yet
    const before = await call<{ data: { enabled: boolean } }>('GET', `/v1/webhooks/${ep.id}`, {
      key: org.key,
    });
    expect(before.body.data.enabled).toBe(true);

    await new Promise((r) =>
      setTimeout(r, Math.max(0, firstFailure!.at + DISABLE_AFTER_MS + 500 - Date.now())),
    );
    const second = await run('two');
    const [notice] = await watcher.waitFor((r) => r.json.event === 'webhook.endpoint_disabled');
    expect(notice!.json.data).toMatchObject({ endpoint_id: ep.id, url: failing.url, reason: 'failing' });
    const after = await call<{ data: { enabled: boolean; disabledReason: string | null } }>(
      'GET',
      `/v1/webhooks/${ep.id}`,
      { key: org.key },
    );
    expect(after.body.data).toMatchObject({ enabled: false, disabledReason: 'failing' });
    // the message that disabled it stops: no further attempt
    const deliveries = await pollDeliveries(org.key, ep.id, (d) =>
      d.some((m) => m.status === 'canceled' || m.status === 'failed'),
    );
    const secondMessage = deliveries.find((d) => d.eventId === `evt_${second.slice(4)}`);
    await new Promise((r) => setTimeout(r, 2500));
    expect(failing.received.filter((r) => r.json.data.execution_id === second)).toHaveLength(
      secondMessage?.attemptCount ?? 1,
    );
    expect(secondMessage?.attemptCount).toBe(1);

    // nothing goes to it while disabled
    const third = await run('three');
    await new Promise((r) => setTimeout(r, 1500));
    expect(failing.received.filter((r) => r.json.data.execution_id === third)).toHaveLength(0);

    up = true;
    const enabled = await call<{ data: { enabled: boolean; disabledReason: string | null } }>(
      'PATCH',
      `/v1/webhooks/${ep.id}`,
      { key: org.key, body: { enabled: true } },
    );
    expect(enabled.body.data).toMatchObject({ enabled: true, disabledReason: null });
    const fourth = await run('four');
    await failing.waitFor((r) => r.json.data.execution_id === fourth);
  }, 60_000);
});
