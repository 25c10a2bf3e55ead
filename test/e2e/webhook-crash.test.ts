// Durability of webhook events: an event committed with its state change is delivered even when the
// worker (which dispatches and delivers) and the api (which wrote it) are SIGKILLed before delivery,
// when a dispatcher dies between fanning an event out and starting its workflow, and when the worker
// dies in the middle of a delivery's retry schedule (same webhook-id, nothing lost).
// This file starts its OWN stack (it kills that stack's worker).
import { type Stack, startService } from '@promptmill/dev/stack';
import { fanOutEvents } from '@promptmill/infra/db';
import type postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { E2E_ENV } from './global-setup.ts';
import { call, unique } from './helpers.ts';
import { type OwnStack, startOwnStack } from './own-stack.ts';
import { isHexSignatureValid, startReceiver, verifySvix } from './webhook-support.ts';

// retries 3 s apart: wide enough to kill the worker between two attempts
const CRASH_ENV = { ...E2E_ENV, WEBHOOK_RETRY_DELAYS: '3,3,3', WEBHOOK_RESTART_AFTER_SECONDS: '2' };
let own: OwnStack;
let stack: Stack;
let sql: postgres.Sql;
let adminToken: string;
let key: string;
let logs: string[];
let api: OwnStack['api'];

beforeAll(async () => {
  own = await startOwnStack({ name: 'webhook-crash', env: CRASH_ENV, plan: 'team' });
  ({ stack, sql, adminToken, key, logs, api } = own);
}, 180_000);

afterAll(() => own?.stop());

async function endpoint(url: string, events: string[]) {
  const res = await api<{ data: { id: string; secret: string } }>('POST', '/v1/webhooks', { url, events });
  expect(res.status).toBe(201);
  return res.body.data;
}

describe('webhook events across crashes', () => {
  it('delivers member events committed while the worker was dead, by an api process SIGKILLed right after', async () => {
    const rx = await startReceiver();
    const ep = await endpoint(rx.url, ['team.member_added']);
    await stack.stopWorker({ crash: true });
    const extraApi = await startService({
      name: 'api-doomed',
      entry: 'api/src/main.ts',
      env: {
        ...process.env,
        ...CRASH_ENV,
        DATABASE_URL: stack.databaseUrl,
        TEMPORAL_ADDRESS: stack.temporalAddress,
        ADMIN_TOKEN: adminToken,
        PORT: '0',
        HOST: '127.0.0.1',
      },
      readyEvent: 'api.ready',
      log: (l) => logs.push(l),
    });
    const doomedUrl = `http://127.0.0.1:${String(extraApi.ready.port)}`;
    const emails = [1, 2, 3].map(() => `${unique('m')}@example.test`);
    for (const email of emails) {
      const res = await call('POST', '/v1/members', { baseUrl: doomedUrl, key, body: { email } });
      expect(res.status).toBe(201);
    }
    const exited = new Promise((r) => extraApi.child.once('exit', r));
    extraApi.child.kill('SIGKILL');
    await exited;
    await new Promise((r) => setTimeout(r, 500));
    expect(rx.received).toHaveLength(0);

    await stack.startWorker();
    const hits = await rx.waitFor((r) => r.json.event === 'team.member_added', 3, 30_000);
    for (const h of hits) {
      verifySvix(h, ep.secret);
      expect(isHexSignatureValid(h, ep.secret)).toBe(true);
    }
    for (const email of emails) expect(hits.some((h) => h.body.includes(email))).toBe(true);
    await new Promise((r) => setTimeout(r, 1000));
    expect(rx.received).toHaveLength(3);
  }, 120_000);

  it('starts the workflows of messages a dispatcher fanned out but died before starting', async () => {
    const rx = await startReceiver();
    await endpoint(rx.url, ['team.member_added']);
    await stack.stopWorker({ crash: true });
    const email = `${unique('m')}@example.test`;
    expect((await api('POST', '/v1/members', { email })).status).toBe(201);
    // what a dispatcher commits before it starts the workflows, and then the crash
    const claimed = await fanOutEvents(sql, 100);
    expect(claimed.length).toBeGreaterThanOrEqual(1);
    const [row] = await sql<{ dispatched: boolean }[]>`
      SELECT bool_and(dispatched_at IS NOT NULL) AS dispatched FROM events WHERE type = 'team.member_added'`;
    expect(row!.dispatched).toBe(true);

    await stack.startWorker();
    const [hit] = await rx.waitFor((r) => r.body.includes(email), 1, 30_000);
    expect(claimed).toContain(hit!.headers['webhook-id']);
    await new Promise((r) => setTimeout(r, 3000));
    expect(rx.received.filter((r) => r.body.includes(email))).toHaveLength(1);
  }, 120_000);

  it("keeps a delivery's retry schedule across a worker SIGKILL between two attempts (same webhook-id)", async () => {
    const rx = await startReceiver((n) => (n === 0 ? 500 : 200));
    const ep = await endpoint(rx.url, ['prompt.executed']);
    const name = unique('crash-prompt');
    expect((await api('POST', '/v1/prompts', { name })).status).toBe(201);
    const v = await api('POST', `/v1/prompts/${name}/versions`, {
      template: 'Hello',
      model: 'mock-1',
      labels: ['production'],
    });
    expect(v.status).toBe(201);
    const run = await api<{ runId: string }>('POST', '/api/v1/run', { promptName: name });
    expect(run.status).toBe(200);
    const [first] = await rx.waitFor((r) => r.json.data.execution_id === run.body.runId);
    // the first attempt is logged (its activity is over): the workflow now waits on its timer
    const deadline = Date.now() + 10_000;
    for (;;) {
      const [m] = await sql<{ attempts: number }[]>`
        SELECT attempts FROM webhook_messages WHERE id = ${String(first!.headers['webhook-id'])}`;
      if ((m?.attempts ?? 0) >= 1) break;
      if (Date.now() > deadline) throw new Error('the first attempt was never logged');
      await new Promise((r) => setTimeout(r, 20));
    }
    await stack.stopWorker({ crash: true });
    const killedAt = Date.now();
    await stack.startWorker();
    const hits = await rx.waitFor((r) => r.json.data.execution_id === run.body.runId, 2, 60_000);
    const recoveredIn = hits[1]!.at - killedAt;
    process.stderr.write(`[webhook-crash] second attempt ${recoveredIn} ms after the kill\n`);
    expect(hits).toHaveLength(2);
    expect(hits[1]!.headers['webhook-id']).toBe(first!.headers['webhook-id']);
    verifySvix(hits[1]!, ep.secret);
    // the durable timer fired after the restart, not before the first attempt's wait was over
    expect(hits[1]!.at - first!.at).toBeGreaterThanOrEqual(2900);
    expect(hits[1]!.at).toBeGreaterThan(killedAt);
  }, 120_000);
});
