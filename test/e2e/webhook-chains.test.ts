// Chain runs' final events (written by the chains room in the chain run's end transaction) reach
// subscribed endpoints and the chain run's own webhookUrl (signed with the org's default secret).
import { beforeAll, describe, expect, it } from 'vitest';
import { call, createOrg, createPrompt, type TestOrg, unique } from './helpers.ts';
import { createEndpoint, isHexSignatureValid, startReceiver, verifySvix } from './webhook-support.ts';

let org: TestOrg;
let chainId: string;

beforeAll(async () => {
  org = await createOrg({ plan: 'team' });
  const prompt = await createPrompt(org.key, { template: 'Hi {{x}}' });
  const def = await call<{ data: { id: string } }>('POST', '/v1/workflows', {
    key: org.key,
    body: {
      name: unique('chain'),
      input: [{ name: 'x' }],
      steps: [{ id: 'one', prompt, variables: { x: '{{input.x}}' } }],
    },
  });
  expect(def.status, def.text).toBe(201);
  chainId = def.body.data.id;
});

describe('chain run webhooks', () => {
  it('delivers workflow.completed to subscribed endpoints and to the chain run webhookUrl', async () => {
    const subscribed = await startReceiver();
    const own = await startReceiver();
    const ep = await createEndpoint(org.key, { url: subscribed.url, events: ['workflow.completed'] });
    const secret = await call<{ data: { secret: string } }>('GET', '/v1/webhooks/default-secret', {
      key: org.key,
    });
    const run = await call<{ data: { id: string } }>('POST', `/v1/workflows/${chainId}/runs`, {
      key: org.key,
      body: { input: { x: 'owls' }, webhookUrl: own.url },
    });
    expect([200, 202]).toContain(run.status);
    const isThisRun = (r: { json: { data: Record<string, unknown> } }) =>
      r.json.data.workflow_run_id === run.body.data.id;
    const [hit] = await subscribed.waitFor(isThisRun);
    expect(hit!.json).toMatchObject({
      event: 'workflow.completed',
      data: { status: 'succeeded', workflow_id: chainId },
    });
    verifySvix(hit!, ep.secret);
    const [mine] = await own.waitFor(isThisRun);
    verifySvix(mine!, secret.body.data.secret);
    expect(isHexSignatureValid(mine!, secret.body.data.secret)).toBe(true);
  }, 60_000);
});
