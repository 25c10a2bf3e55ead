// API_EMBEDDED_WORKER=true: an api process that also runs a worker on the runs task queue starts
// sync runs eagerly on it (the first workflow task comes back with the start's answer and runs in
// that process), and the run stays a durable workflow: when that api dies mid-run, the stack's
// worker process finishes it, every provider call counted once.
import { hostname } from 'node:os';
import { type ServiceProcess, startService } from '@promptmill/dev/stack';
import { Client, Connection } from '@temporalio/client';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { E2E_ENV } from './global-setup.ts';
import { adminToken, call, createOrg, createPrompt, mock, type TestOrg, unique } from './helpers.ts';
import { testSql } from './runs-support.ts';

const sql = testSql();
let api: ServiceProcess | undefined;
let baseUrl: string;
let temporal: Connection;
let client: Client;
let org: TestOrg;

async function startEmbeddedApi(): Promise<ServiceProcess> {
  return startService({
    name: 'api-embedded-worker',
    entry: 'api/src/main.ts',
    env: {
      ...process.env,
      ...E2E_ENV,
      // the provider call this test kills the api in must not time out first
      PROVIDER_TIMEOUT_MS: '60000',
      API_EMBEDDED_WORKER: 'true',
      PORT: '0',
      DATABASE_URL: inject('databaseUrl'),
      TEMPORAL_ADDRESS: inject('temporalAddress'),
      OPENAI_BASE_URL: inject('mockUrl'),
      ADMIN_TOKEN: adminToken,
    },
    readyEvent: 'api.ready',
    log: () => {},
    timeoutMs: 120_000,
  });
}

beforeAll(async () => {
  api = await startEmbeddedApi();
  baseUrl = `http://127.0.0.1:${String(api.ready.port)}`;
  temporal = await Connection.connect({ address: inject('temporalAddress') });
  client = new Client({ connection: temporal });
  org = await createOrg();
}, 180_000);

afterAll(async () => {
  if (api && api.child.exitCode === null) api.child.kill('SIGKILL');
  await temporal?.close();
});

/** The identities of the workers that started the run's workflow tasks (`pid@host`). */
async function workflowTaskWorkers(runId: string): Promise<string[]> {
  const history = await client.workflow.getHandle(runId).fetchHistory();
  return (history.events ?? []).flatMap((e) =>
    e.workflowTaskStartedEventAttributes ? [e.workflowTaskStartedEventAttributes.identity ?? ''] : [],
  );
}

describe('an api with an embedded worker (API_EMBEDDED_WORKER=true)', () => {
  it('runs a sync run on its own worker, started eagerly', async () => {
    const name = await createPrompt(org.key, { template: `${unique('eager')} {{x}}` });
    const res = await call<{ success: boolean; runId: string; output: string }>('POST', '/api/v1/run', {
      baseUrl,
      key: org.key,
      body: { promptName: name, variables: { x: 'hello' } },
    });
    expect(res.status).toBe(200);
    expect(res.body.success).toBe(true);
    expect(await workflowTaskWorkers(res.body.runId)).toEqual([`${String(api?.child.pid)}@${hostname()}`]);
  });

  it('a run whose api dies mid-call is finished by another worker, each provider call counted', async () => {
    const marker = unique('orphan');
    const name = await createPrompt(org.key, { template: `${marker} {{x}}` });
    await mock.addRule({ match: { contains: marker }, times: 1, action: { type: 'delay', ms: 30_000 } });
    const pending = call('POST', '/api/v1/run', {
      baseUrl,
      key: org.key,
      body: { promptName: name, variables: { x: 'bye' } },
    }).catch(() => undefined); // the connection dies with the api
    const deadline = Date.now() + 20_000;
    while ((await mock.calls({ contains: marker })).length === 0) {
      if (Date.now() > deadline) throw new Error('the provider never saw the call');
      await new Promise((r) => setTimeout(r, 20));
    }
    const killedAt = Date.now();
    api?.child.kill('SIGKILL');
    await pending;

    // the stack's worker takes the workflow task over once it times out (3 s) and calls again
    let run: { id: string; status: string; attempts: number } | undefined;
    while (Date.now() - killedAt < 30_000) {
      [run] = await sql<{ id: string; status: string; attempts: number }[]>`
        SELECT r.id, r.status, r.attempts FROM runs r JOIN prompts p ON p.id = r.prompt_id
        WHERE p.name = ${name}`;
      if (run?.status === 'succeeded') break;
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(run).toMatchObject({ status: 'succeeded', attempts: 2 });
    const attempts = await sql<{ status: string }[]>`
      SELECT status FROM usage_events WHERE run_id = ${run!.id} AND kind = 'attempt' ORDER BY id`;
    expect(attempts.map((a) => a.status)).toEqual(['interrupted', 'succeeded']);
    const workers = await workflowTaskWorkers(run!.id);
    expect(workers[0]).toBe(`${String(api?.child.pid)}@${hostname()}`);
    expect(workers.at(-1)).not.toBe(workers[0]);
  }, 60_000);
});
