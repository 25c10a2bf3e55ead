// Sync runs and their connections: a client that goes away cancels its run (like a stream's), and
// an api process at its limit of runs in flight refuses more at once — 503 with Retry-After, before
// anything is written — instead of queueing them until latency is seconds.

import { request } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDirectApi } from './direct-support.ts';
import { E2E_ENV } from './global-setup.ts';
import { apiUrl, call, createOrg, createPrompt, mock, type TestOrg, unique } from './helpers.ts';
import { type ExtraApi, eventually, startExtraApi } from './limits-support.ts';
import { testSql } from './runs-support.ts';

const sql = testSql();

const HIGH_LIMITS = { plan: 'enterprise', limits: { perMinute: 100_000, perDay: 1_000_000 } };

/** The runs of one prompt (by name) of one organization, oldest first. */
async function runsOf(orgId: string, promptName: string) {
  return sql<{ id: string; status: string; errorCode: string | null; attempts: number }[]>`
    SELECT r.id, r.status, r.error_code AS "errorCode", r.attempts
    FROM runs r JOIN prompts p ON p.id = r.prompt_id
    WHERE p.org_id = ${orgId} AND p.name = ${promptName} ORDER BY r.created_at`;
}

async function usageOf(runId: string) {
  return sql<{ kind: string; status: string; errorCode: string | null; promptTokens: number }[]>`
    SELECT kind, status, error_code AS "errorCode", prompt_tokens AS "promptTokens"
    FROM usage_events WHERE run_id = ${runId} ORDER BY kind, seq`;
}

/**
 * POSTs a run on a connection of its own and drops it after `afterMs`; resolves with the time it
 * did. (node:http, not fetch: fetch's pool opens spare connections after an abort, which would keep
 * an api process from stopping until its shutdown grace is over.)
 */
/** Sends the request and leaves the connection open; `disconnect()` closes it and returns the time. */
function postAndHold(url: string, key: string, body: unknown): { disconnect: () => number } {
  const req = request(url, {
    method: 'POST',
    agent: false,
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
  });
  req.on('error', () => {}); // our own abort
  req.end(JSON.stringify(body));
  return {
    disconnect: () => {
      req.destroy();
      return Date.now();
    },
  };
}

function postAndDisconnect(url: string, key: string, body: unknown, afterMs: number): Promise<number> {
  const held = postAndHold(url, key, body);
  return new Promise((resolve) => setTimeout(() => resolve(held.disconnect()), afterMs));
}

describe('a client that disconnects cancels its sync run', () => {
  let org: TestOrg;
  beforeAll(async () => {
    org = await createOrg(HIGH_LIMITS);
  });

  const routes: Record<string, (prompt: { name: string; id: string }) => { path: string; body: unknown }> = {
    'POST /api/v1/run': (p) => ({ path: '/api/v1/run', body: { promptName: p.name, variables: { x: '1' } } }),
    'POST /v1/agents/:id/execute': (p) => ({
      path: `/v1/agents/${p.id}/execute`,
      body: { variables: { x: '1' } },
    }),
  };

  it.each(Object.keys(routes))(
    '%s: the run ends canceled within seconds, the provider call is aborted at once, usage is recorded',
    async (route) => {
      const marker = unique('sync-gone');
      const name = await createPrompt(org.key, { template: `${marker} {{x}}` });
      const prompt = await call<{ data: { id: string } }>('GET', `/v1/prompts/${name}`, { key: org.key });
      // 20 s if nobody stopped it
      const rule = await mock.addRule({ match: { contains: marker }, action: { type: 'delay', ms: 20_000 } });
      try {
        const { path, body } = routes[route]!({ name, id: prompt.body.data.id });
        // the provider has the call before the client goes away
        // (waiting for it rather than a fixed delay: on a busy machine the call may take longer to arrive)
        const held = postAndHold(`${apiUrl}${path}`, org.key, body);
        await expect
          .poll(async () => (await mock.calls({ contains: marker })).length, { timeout: 15_000 })
          .toBe(1);
        const abortedAt = held.disconnect();

        // the provider call is stopped at once (the cancel NOTIFY), not at the workflow's next
        // workflow-task heartbeat (~2.4 s) nor after the 20 s delay
        const [providerCall] = await eventually(async () => {
          const calls = await mock.calls({ contains: marker });
          return calls[0]?.abortedAt === undefined ? undefined : calls;
        });
        expect(providerCall!.abortedAt! - abortedAt).toBeLessThan(1_000);

        const [run] = await eventually(async () => {
          const runs = await runsOf(org.orgId, name);
          return runs[0]?.status === 'canceled' ? runs : undefined;
        }, 6_000);
        expect(Date.now() - abortedAt).toBeLessThan(6_000);
        expect(run).toMatchObject({ status: 'canceled', errorCode: 'RUN_CANCELED', attempts: 1 });
        // the attempt (canceled: no answer, nothing billed) and the run's own usage row, once
        expect(await usageOf(run!.id)).toEqual([
          { kind: 'attempt', status: 'failed', errorCode: 'RUN_CANCELED', promptTokens: 0 },
          { kind: 'run', status: 'canceled', errorCode: 'RUN_CANCELED', promptTokens: 0 },
        ]);
        expect(await mock.calls({ contains: marker })).toHaveLength(1); // not retried
      } finally {
        await mock.removeRule(rule);
      }
    },
  );
});

// the same shedding in front of both modes: a direct-mode api runs the admitted runs itself
const overloadApis: Record<string, () => Promise<ExtraApi>> = {
  workflow: () => startExtraApi({ ...E2E_ENV, SYNC_RUN_MAX_IN_FLIGHT: '2' }),
  direct: () => startDirectApi({ SYNC_RUN_MAX_IN_FLIGHT: '2' }),
};

describe.each(Object.keys(overloadApis))(
  'overload (SYNC_RUN_MODE=%s): an api process at SYNC_RUN_MAX_IN_FLIGHT refuses more runs at once',
  (mode) => {
    let api: ExtraApi;
    let org: TestOrg;
    beforeAll(async () => {
      api = await overloadApis[mode]!();
      org = await createOrg(HIGH_LIMITS);
    });
    afterAll(async () => {
      await api?.stop();
    });

    const post = async (path: string, body: unknown) => {
      const started = performance.now();
      const res = await call<Record<string, unknown>>('POST', path, { key: org.key, body, baseUrl: api.url });
      return { ...res, ms: performance.now() - started };
    };

    it('answers the excess 503 SERVICE_UNAVAILABLE with Retry-After in milliseconds, writes nothing for it, and runs the admitted ones', async () => {
      const marker = unique('overload');
      const name = await createPrompt(org.key, { template: `${marker} {{x}}` });
      const rule = await mock.addRule({ match: { contains: marker }, action: { type: 'delay', ms: 1_500 } });
      try {
        const admitted = [1, 2].map((i) =>
          post('/api/v1/run', { promptName: name, variables: { x: `a${i}` } }),
        );
        await expect.poll(async () => (await mock.calls({ contains: marker })).length).toBe(2);

        // each refusal must come in < 100 ms; the machine is shared (two test files at once), so a
        // burst that a stall of the test process slowed is tried again, up to three times
        const burst = () =>
          Promise.all([
            ...Array.from({ length: 8 }, (_, i) =>
              post('/api/v1/run', { promptName: name, variables: { x: `b${i}` } }),
            ),
            post('/api/v1/run', { promptName: name, variables: { x: 'stream' }, stream: true }),
            post('/v1/agents/whatever/execute', { variables: { x: 'agent' } }),
          ]);
        const slowest: number[] = [];
        for (let attempt = 0; attempt < 3; attempt++) {
          const excess = await burst();
          for (const res of excess) {
            expect(res.status).toBe(503);
            expect(res.headers.get('retry-after')).toBe('1');
            expect(res.body).toEqual({
              success: false,
              code: 'SERVICE_UNAVAILABLE',
              error: 'The server is at capacity; try again shortly',
              retryAfter: 1,
            });
          }
          slowest.push(Math.max(...excess.map((r) => r.ms)));
          if (slowest.at(-1)! < 100) break;
        }
        expect(
          Math.min(...slowest),
          `slowest refusal per burst: ${slowest.map(Math.round).join(', ')} ms`,
        ).toBeLessThan(100);

        const done = await Promise.all(admitted);
        expect(done.map((r) => r.status)).toEqual([200, 200]);
        expect(done.map((r) => r.body.output)).toEqual([`Echo: ${marker} a1`, `Echo: ${marker} a2`]);
        // nothing was written for the refused ones: no run, no provider call
        expect(await runsOf(org.orgId, name)).toHaveLength(2);
        expect(await mock.calls({ contains: marker })).toHaveLength(2);

        // their slots are free again once answered
        const after = await post('/api/v1/run', { promptName: name, variables: { x: 'c' } });
        expect(after.status).toBe(200);
        const metrics = await call('GET', '/metrics', { baseUrl: api.url });
        expect(metrics.text).toMatch(
          new RegExp(`^promptmill_sync_runs_shed_total ${10 * slowest.length}$`, 'm'),
        );
        expect(metrics.text).toMatch(/^promptmill_sync_runs_in_flight 0$/m);
        expect(metrics.text).toMatch(/^promptmill_sync_runs_limit 2$/m);
      } finally {
        await mock.removeRule(rule);
      }
    });

    it('a client that goes away frees its slot at once', async () => {
      const inFlight = async () =>
        /^promptmill_sync_runs_in_flight (\d+)$/m.exec(
          (await call('GET', '/metrics', { baseUrl: api.url })).text,
        )?.[1];
      await expect.poll(inFlight).toBe('0');
      const marker = unique('overload-gone');
      const name = await createPrompt(org.key, { template: `${marker} {{x}}` });
      const rule = await mock.addRule({ match: { contains: marker }, action: { type: 'delay', ms: 20_000 } });
      try {
        await Promise.all(
          [1, 2].map((i) =>
            postAndDisconnect(
              `${api.url}/api/v1/run`,
              org.key,
              { promptName: name, variables: { x: `${i}` } },
              300,
            ),
          ),
        );
        // both slots were taken; the server sees each connection close within moments
        await expect.poll(inFlight, { timeout: 1_000, interval: 20 }).toBe('0');
        const res = await post('/api/v1/run', { promptName: `${name}-missing`, variables: {} });
        expect(res.status).toBe(404); // admitted (then not found), not refused
      } finally {
        await mock.removeRule(rule);
      }
    });
  },
);

describe('the adaptive limit: runs that waited too long for a worker lower it', () => {
  let api: ExtraApi;
  let org: TestOrg;
  beforeAll(async () => {
    // every run waits longer than 1 ms between its row and its first provider call
    api = await startExtraApi({ ...E2E_ENV, SYNC_RUN_MAX_IN_FLIGHT: '10', SYNC_RUN_TARGET_QUEUE_MS: '1' });
    org = await createOrg(HIGH_LIMITS);
  });
  afterAll(async () => {
    await api?.stop();
  });

  it('reads each run’s wait from its recorded row and cuts the limit (never below 4)', async () => {
    const limit = async () =>
      /^promptmill_sync_runs_limit (\d+)$/m.exec(
        (await call('GET', '/metrics', { baseUrl: api.url })).text,
      )?.[1];
    expect(await limit()).toBe('10');
    const name = await createPrompt(org.key, { template: `${unique('adaptive')} {{x}}` });
    const res = await call('POST', '/api/v1/run', {
      key: org.key,
      body: { promptName: name, variables: { x: '1' } },
      baseUrl: api.url,
    });
    expect(res.status).toBe(200);
    expect(await limit()).toBe('4');
  });
});
