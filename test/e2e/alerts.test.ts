// Alert rules (/v1/alerts) and their evaluation: the evaluation is called directly with a `now` (the
// worker's schedule runs the same function every minute), on usage seeded at fixed times in 2031.
// Fires once on crossing, not again in the same window, again in the next; writes usage.alert into
// the events outbox; disabled rules never fire. The schedule itself is checked in the running stack.
import { randomUUID } from 'node:crypto';
import { Client, Connection } from '@temporalio/client';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createSql } from '../../infra/src/db/index.ts';
import { ALERT_SCHEDULE_ID } from '../../workers/src/alerts/alert-schedule.ts';
import { evaluateAlerts } from '../../workers/src/alerts/evaluate-alerts.ts';
import { call, createOrg, createPrompt, type TestOrg } from './helpers.ts';
import { insertKey, promptId } from './runs-support.ts';

const sql = createSql(inject('databaseUrl'), { max: 4 });
afterAll(() => sql.end());

interface Alert {
  id: string;
  type: string;
  enabled: boolean;
  state: string;
  thresholdPercent: number | null;
  windowMinutes: number | null;
  minRequests: number | null;
  amountUsd: number | null;
  lastValue: number | null;
  lastFiredAt: string | null;
}

const runId = () => `run_${randomUUID().replaceAll('-', '')}`;

describe('alerts', () => {
  let org: TestOrg;
  let pid: string;
  let versionId: string;

  beforeAll(async () => {
    // 100 requests per day: the file's own ~40 requests stay under it; 80 seeded runs cross 80 %
    org = await createOrg({ limits: { perDay: 100 } });
    pid = await promptId(org.key, await createPrompt(org.key, { template: 'alerts {{x}}' }));
    const [v] = await sql<{ id: string }[]>`SELECT id FROM prompt_versions WHERE prompt_id = ${pid}`;
    versionId = v!.id;
  });

  const createAlert = async (body: Record<string, unknown>, key = org.key) => {
    const res = await call<{ data: Alert }>('POST', '/v1/alerts', { key, body });
    expect(res.status, res.text).toBe(201);
    return res.body.data;
  };
  const getAlert = async (id: string) =>
    (await call<{ data: Alert }>('GET', `/v1/alerts/${id}`, { key: org.key })).body.data;
  const alertEvents = async (alertId: string) =>
    sql<{ id: string; payload: Record<string, unknown>; created_at: Date }[]>`
      SELECT id, payload, created_at FROM events
      WHERE org_id = ${org.orgId} AND type = 'usage.alert' AND payload->>'alert_id' = ${alertId}
      ORDER BY created_at, id`;
  /** one ended run's usage event (what the roll-up counts) */
  const seedRuns = async (at: string, n: number, cost = 0) => {
    await sql`
      INSERT INTO usage_events (org_id, key_id, run_id, kind, prompt_id, prompt_version, model, status,
                                prompt_tokens, completion_tokens, cost, latency_ms, created_at)
      SELECT ${org.orgId}, ${org.keyId}, 'run_' || md5(random()::text || i), 'run', ${pid}, 1, 'mock-1', 'succeeded',
             10, 5, ${cost}, 100, ${at}
      FROM generate_series(1, ${n}) i`;
  };
  const evaluate = (now: string) => evaluateAlerts({ sql }, new Date(now), { orgId: org.orgId });

  it('creates, lists and reads rules with their defaults; validates; admin scope to write', async () => {
    const usage = await createAlert({ type: 'usage_threshold' });
    expect(usage).toMatchObject({
      type: 'usage_threshold',
      thresholdPercent: 80,
      enabled: true,
      state: 'ok',
    });
    expect(usage.id).toMatch(/^alr_/);
    const errors = await createAlert({ type: 'error_rate', enabled: false });
    expect(errors).toMatchObject({
      thresholdPercent: 5,
      windowMinutes: 15,
      minRequests: 20,
      state: 'disabled',
    });

    const list = await call<{ data: Alert[]; meta: { total: number } }>('GET', '/v1/alerts', {
      key: org.key,
    });
    expect(list.status).toBe(200);
    expect(list.body.data.map((a) => a.id)).toEqual([usage.id, errors.id]);

    for (const body of [
      { type: 'cost_threshold' },
      { type: 'cost_threshold', amountUsd: -1 },
      { type: 'error_rate', thresholdPercent: 150 },
      { type: 'nope' },
      { type: 'usage_threshold', keyId: 'key_of_nobody' },
    ]) {
      const res = await call<{ error: { code: string } }>('POST', '/v1/alerts', { key: org.key, body });
      expect(res.status, JSON.stringify(body)).toBe(400);
      expect(res.body.error.code).toBe('VALIDATION_ERROR');
    }
    const reader = await insertKey(sql, org.orgId, { scopes: ['analytics:read'] });
    expect((await call('GET', '/v1/alerts', { key: reader })).status).toBe(200);
    const refused = await call<{ error: { code: string } }>('POST', '/v1/alerts', {
      key: reader,
      body: { type: 'usage_threshold' },
    });
    expect(refused.status).toBe(403);

    // another organization sees none of them
    const other = await createOrg();
    const foreign = await call<{ error: { code: string } }>('GET', `/v1/alerts/${usage.id}`, {
      key: other.key,
    });
    expect(foreign.status).toBe(404);
    expect(foreign.body.error.code).toBe('ALERT_NOT_FOUND');
    expect((await call('DELETE', `/v1/alerts/${usage.id}`, { key: other.key })).status).toBe(404);
    expect((await call<{ data: Alert[] }>('GET', '/v1/alerts', { key: other.key })).body.data).toEqual([]);

    expect((await call('DELETE', `/v1/alerts/${usage.id}`, { key: org.key })).status).toBe(204);
    expect((await call('DELETE', `/v1/alerts/${errors.id}`, { key: org.key })).status).toBe(204);
    expect((await call('GET', `/v1/alerts/${usage.id}`, { key: org.key })).status).toBe(404);
  });

  it('usage_threshold: fires once on crossing 80 % of the daily limit, not again that day, again the next', async () => {
    const rule = await createAlert({ type: 'usage_threshold', name: 'daily runs' });
    const disabled = await createAlert({ type: 'usage_threshold', enabled: false });

    await seedRuns('2031-05-10T01:00:00Z', 70);
    expect((await evaluate('2031-05-10T01:30:00Z')).fired).toEqual([]);
    expect(await getAlert(rule.id)).toMatchObject({ state: 'ok', lastValue: 70 });

    await seedRuns('2031-05-10T01:40:00Z', 10);
    expect((await evaluate('2031-05-10T01:45:00Z')).fired).toEqual([rule.id]);
    expect(await getAlert(rule.id)).toMatchObject({
      state: 'firing',
      lastValue: 80,
      lastFiredAt: '2031-05-10T01:45:00.000Z',
    });
    const [event] = await alertEvents(rule.id);
    expect(event!.id).toMatch(/^evt_/);
    expect(event!.payload).toEqual({
      alert_id: rule.id,
      alert_type: 'usage_threshold',
      name: 'daily runs',
      state: 'firing',
      value: 80,
      threshold: 80,
      window: { start: '2031-05-10T00:00:00.000Z', end: '2031-05-11T00:00:00.000Z' },
      evaluated_at: '2031-05-10T01:45:00.000Z',
      limit: 'requests_per_day',
      scope: 'org',
      limit_value: 100,
      used: 80,
    });

    // still over, same day: no new event, still firing
    await seedRuns('2031-05-10T05:00:00Z', 10);
    expect((await evaluate('2031-05-10T05:01:00Z')).fired).toEqual([]);
    expect((await evaluate('2031-05-10T23:59:00Z')).fired).toEqual([]);
    expect(await alertEvents(rule.id)).toHaveLength(1);
    expect(await getAlert(rule.id)).toMatchObject({ state: 'firing', lastValue: 90 });

    // the next UTC day starts at zero: ok, then over again → fires again
    expect((await evaluate('2031-05-11T00:00:00Z')).fired).toEqual([]);
    expect(await getAlert(rule.id)).toMatchObject({ state: 'ok', lastValue: 0 });
    await seedRuns('2031-05-11T00:10:00Z', 90);
    expect((await evaluate('2031-05-11T00:20:00Z')).fired).toEqual([rule.id]);
    expect((await alertEvents(rule.id)).map((e) => (e.payload.window as { start: string }).start)).toEqual([
      '2031-05-10T00:00:00.000Z',
      '2031-05-11T00:00:00.000Z',
    ]);
    // the disabled rule saw the same usage and never fired
    expect(await alertEvents(disabled.id)).toEqual([]);
    expect(await getAlert(disabled.id)).toMatchObject({ state: 'disabled', lastFiredAt: null });
    for (const id of [rule.id, disabled.id]) await call('DELETE', `/v1/alerts/${id}`, { key: org.key });
  });

  it("usage_threshold on a key: the key's own daily limit when it is the tightest", async () => {
    const keyed = await insertKey(sql, org.orgId, { scopes: ['runs:execute'] });
    const [k] = await sql<{ id: string }[]>`
      UPDATE api_keys SET rate_limits = '{"perDay": 4}'
      WHERE org_id = ${org.orgId} AND id <> ${org.keyId} AND scopes = ARRAY['runs:execute'] RETURNING id`;
    expect(keyed).toMatch(/^pm_live_/);
    const rule = await createAlert({ type: 'usage_threshold', keyId: k!.id, thresholdPercent: 50 });
    const rows = Array.from({ length: 2 }, () => ({
      org_id: org.orgId,
      key_id: k!.id,
      run_id: runId(),
      kind: 'run',
      prompt_id: pid,
      model: 'mock-1',
      status: 'succeeded',
      created_at: '2031-06-01T10:00:00Z',
    }));
    await sql`INSERT INTO usage_events ${sql(rows)}`;
    expect((await evaluate('2031-06-01T10:05:00Z')).fired).toEqual([rule.id]);
    const [event] = await alertEvents(rule.id);
    expect(event!.payload).toMatchObject({ scope: 'key', limit_value: 4, used: 2, value: 50 });
    await call('DELETE', `/v1/alerts/${rule.id}`, { key: org.key });
  });

  it('cost_threshold: USD per UTC day, once per day', async () => {
    const rule = await createAlert({ type: 'cost_threshold', amountUsd: 1 });
    await seedRuns('2031-07-01T03:00:00Z', 1, 0.6);
    expect((await evaluate('2031-07-01T03:10:00Z')).fired).toEqual([]);
    expect(await getAlert(rule.id)).toMatchObject({ state: 'ok', lastValue: 0.6 });
    await seedRuns('2031-07-01T04:00:00Z', 1, 0.4);
    // two evaluators at once (e.g. a retried activity and the next schedule tick): one event
    const both = await Promise.all([evaluate('2031-07-01T04:05:00Z'), evaluate('2031-07-01T04:05:00Z')]);
    expect(both.flatMap((r) => r.fired)).toEqual([rule.id]);
    expect(await alertEvents(rule.id)).toHaveLength(1);
    expect((await alertEvents(rule.id))[0]!.payload).toMatchObject({ cost_usd: 1, threshold: 1 });
    await seedRuns('2031-07-02T04:00:00Z', 1, 2);
    expect((await evaluate('2031-07-02T04:05:00Z')).fired).toEqual([rule.id]);
    expect(await alertEvents(rule.id)).toHaveLength(2);

    // disabled: never fires, whatever the usage
    const patched = await call<{ data: Alert }>('PATCH', `/v1/alerts/${rule.id}`, {
      key: org.key,
      body: { enabled: false },
    });
    expect(patched.body.data).toMatchObject({ enabled: false, state: 'disabled' });
    await seedRuns('2031-07-03T04:00:00Z', 1, 5);
    expect((await evaluate('2031-07-03T04:05:00Z')).fired).toEqual([]);
    expect(await alertEvents(rule.id)).toHaveLength(2);
    await call('DELETE', `/v1/alerts/${rule.id}`, { key: org.key });
  });

  it('error_rate: failed runs over the window, from the minimum request count on', async () => {
    const rule = await createAlert({
      type: 'error_rate',
      thresholdPercent: 25,
      windowMinutes: 15,
      minRequests: 4,
    });
    /** runs that ended: their 'run' usage events */
    const endRuns = async (finishedAt: string, statuses: string[]) => {
      for (const status of statuses) {
        await sql`
          INSERT INTO usage_events (org_id, key_id, run_id, kind, prompt_id, model, status, created_at)
          VALUES (${org.orgId}, ${org.keyId}, ${runId()}, 'run', ${pid}, 'mock-1', ${status}, ${finishedAt})`;
      }
    };
    /** a run that failed before its workflow started: no usage event, counted from the run */
    const failUnstarted = async (finishedAt: string) => {
      await sql`
        INSERT INTO runs (id, org_id, key_id, prompt_id, version_id, prompt_version, mode, status, model,
                          created_at, finished_at)
        VALUES (${runId()}, ${org.orgId}, ${org.keyId}, ${pid}, ${versionId}, 1, 'async', 'failed', 'mock-1',
                ${finishedAt}::timestamptz - interval '1 second', ${finishedAt})`;
    };
    // 1 of 3 failed (before its start): over 25 %, but under the minimum of 4 runs
    await endRuns('2031-08-01T10:02:00Z', ['succeeded', 'succeeded']);
    await failUnstarted('2031-08-01T10:02:00Z');
    expect((await evaluate('2031-08-01T10:05:00Z')).fired).toEqual([]);
    expect(await getAlert(rule.id)).toMatchObject({ state: 'ok', lastValue: 33.33 });
    await endRuns('2031-08-01T10:06:00Z', ['succeeded']);
    expect((await evaluate('2031-08-01T10:07:00Z')).fired).toEqual([rule.id]);
    // same 15-minute window: no second event
    expect((await evaluate('2031-08-01T10:14:00Z')).fired).toEqual([]);
    // the next window, the failures still within the last 15 minutes: fires again
    expect((await evaluate('2031-08-01T10:16:00Z')).fired).toEqual([rule.id]);
    // later, the runs have left the window: ok
    expect((await evaluate('2031-08-01T10:40:00Z')).fired).toEqual([]);
    expect(await getAlert(rule.id)).toMatchObject({ state: 'ok', lastValue: 0 });
    const events = await alertEvents(rule.id);
    expect(events.map((e) => e.payload.window)).toEqual([
      { start: '2031-08-01T10:00:00.000Z', end: '2031-08-01T10:15:00.000Z' },
      { start: '2031-08-01T10:15:00.000Z', end: '2031-08-01T10:30:00.000Z' },
    ]);
    expect(events[0]!.payload).toMatchObject({ requests: 4, errors: 1, value: 25, min_requests: 4 });
    await call('DELETE', `/v1/alerts/${rule.id}`, { key: org.key });
  });
});

describe('the alert schedule in the running stack', () => {
  it('exists, every minute, and a triggered evaluation completes on the worker', async () => {
    const connection = await Connection.connect({ address: inject('temporalAddress') });
    try {
      const client = new Client({ connection, namespace: 'default' });
      const handle = client.schedule.getHandle(ALERT_SCHEDULE_ID);
      // the worker creates it at start, in the background
      let description: Awaited<ReturnType<typeof handle.describe>> | undefined;
      for (let i = 0; i < 100 && !description; i++) {
        description = await handle.describe().catch(() => undefined);
        if (!description) await new Promise((r) => setTimeout(r, 100));
      }
      expect(description).toBeDefined();
      expect(description!.spec.intervals?.[0]?.every).toBe(60_000);
      expect(description!.action).toMatchObject({
        type: 'startWorkflow',
        workflowType: 'evaluateAlertsWorkflow',
      });
      const lastId = (d: typeof description) => d?.info.recentActions.at(-1)?.action.workflow.workflowId;
      const before = lastId(description);
      await handle.trigger();
      let started: string | undefined;
      for (let i = 0; i < 100 && !started; i++) {
        const id = lastId(await handle.describe());
        if (id !== before) started = id;
        else await new Promise((r) => setTimeout(r, 100));
      }
      expect(started).toBeDefined();
      const result = await client.workflow.getHandle(started!).result();
      expect(result.evaluated).toBeGreaterThanOrEqual(0);
      expect(Array.isArray(result.fired)).toBe(true);
    } finally {
      await connection.close();
    }
  });
});
