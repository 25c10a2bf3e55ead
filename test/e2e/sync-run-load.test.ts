// Sync runs and their connections: a client that goes away cancels its run, like a stream's.

import { request } from 'node:http';
import { beforeAll, describe, expect, it } from 'vitest';
import { apiUrl, call, createOrg, createPrompt, mock, type TestOrg, unique } from './helpers.ts';
import { eventually } from './limits-support.ts';
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
function postAndDisconnect(url: string, key: string, body: unknown, afterMs: number): Promise<number> {
  return new Promise((resolve) => {
    const req = request(url, {
      method: 'POST',
      agent: false,
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
    });
    req.on('error', () => {}); // our own abort
    req.end(JSON.stringify(body));
    setTimeout(() => {
      req.destroy();
      resolve(Date.now());
    }, afterMs);
  });
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
        const disconnect = postAndDisconnect(`${apiUrl}${path}`, org.key, body, 300);
        await expect.poll(async () => (await mock.calls({ contains: marker })).length).toBe(1);
        const abortedAt = await disconnect;

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
