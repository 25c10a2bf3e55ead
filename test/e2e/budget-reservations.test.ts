// The budget reservation in SQL, against the stack's real Postgres: admission under concurrency,
// settlement exactly once on completion, release for runs that never start, the sweep of
// reservations whose run ended or vanished. (budget.test.ts drives the same through the HTTP api.)
import { randomUUID } from 'node:crypto';
import { afterAll, describe, expect, inject, it } from 'vitest';
import {
  abandonUndispatchedRuns,
  cancelUndispatchedRun,
  completeRun,
  createSql,
  failUnstartedRun,
  finishAttempt,
  insertReservedRun,
  type NewRun,
  releaseStaleReservations,
  reserveBudget,
  startAttempt,
} from '../../infra/src/db/index.ts';
import { newId } from '../../infra/src/ids.ts';
import { createOrg, createPrompt, type TestOrg, unique } from './helpers.ts';
import { testSql } from './runs-support.ts';

const sql = testSql();
// the typed pool the api and worker use (bigint and numeric as numbers)
const db = createSql(inject('databaseUrl'), { max: 12, appName: 'budget-reservations-test' });
afterAll(() => db.end());

const fakeOrg = () => `org_${randomUUID().replaceAll('-', '')}`;

async function ledger(orgId: string) {
  const [row] = await sql<{ tokens: number; reserved: number; held: number; n: number }[]>`
    SELECT
      (SELECT COALESCE(sum(tokens), 0)::int FROM org_usage_monthly WHERE org_id = ${orgId}) AS tokens,
      (SELECT COALESCE(sum(reserved_tokens), 0)::int FROM org_usage_monthly WHERE org_id = ${orgId}) AS reserved,
      (SELECT COALESCE(sum(tokens), 0)::int FROM budget_reservations WHERE org_id = ${orgId}) AS held,
      (SELECT count(*)::int FROM budget_reservations WHERE org_id = ${orgId}) AS n`;
  return row!;
}

const identity = (orgId: string, runId: string) => ({
  runId,
  orgId,
  keyId: null,
  promptId: 'pmt_test',
  promptVersion: 1,
});

async function recordAttempt(orgId: string, runId: string, prompt: number, completion: number) {
  const attempt = {
    ...identity(orgId, runId),
    attemptId: randomUUID(),
    seq: 1,
    model: 'mock-1',
    provider: 'mock',
  };
  await startAttempt(db, {
    ...attempt,
    isFirst: true,
    estimate: { promptTokens: 3, completionTokens: 0, totalTokens: 3, cost: 0 },
  });
  await finishAttempt(db, {
    ...attempt,
    status: 'succeeded',
    errorCode: null,
    usage: { promptTokens: prompt, completionTokens: completion, totalTokens: prompt + completion, cost: 0 },
    latencyMs: 1,
  });
}

const completion = (orgId: string, runId: string) => ({
  ...identity(orgId, runId),
  status: 'succeeded' as const,
  output: 'ok',
  model: 'mock-1',
  errorCode: null,
  errorMessage: null,
  latencyMs: 5,
  cacheHit: false,
});

describe('reserveBudget', () => {
  it('admits while used + reserved < budget: of 20 concurrent claims of 10 against 50, exactly 5 hold', async () => {
    const orgId = fakeOrg();
    const decisions = await Promise.all(
      Array.from({ length: 20 }, () =>
        reserveBudget(db, { orgId, runId: newId('run'), budget: 50, tokens: 10 }),
      ),
    );
    expect(decisions.filter((d) => d.isReserved)).toHaveLength(5);
    expect(decisions.filter((d) => !d.isReserved)).toHaveLength(15);
    for (const d of decisions)
      if (!d.isReserved) expect(d).toEqual({ isReserved: false, used: 0, reserved: 50 });
    expect(await ledger(orgId)).toEqual({ tokens: 0, reserved: 50, held: 50, n: 5 });
  });

  it('a budget smaller than one claim admits one claim while nothing is used or reserved; a budget of 0 none', async () => {
    const orgId = fakeOrg();
    expect(await reserveBudget(db, { orgId, runId: newId('run'), budget: 5, tokens: 4_000 })).toEqual({
      isReserved: true,
    });
    expect(await reserveBudget(db, { orgId, runId: newId('run'), budget: 5, tokens: 1 })).toEqual({
      isReserved: false,
      used: 0,
      reserved: 4_000,
    });
    const empty = fakeOrg();
    expect(await reserveBudget(db, { orgId: empty, runId: newId('run'), budget: 0, tokens: 1 })).toEqual({
      isReserved: false,
      used: 0,
      reserved: 0,
    });
    expect(await ledger(empty)).toEqual({ tokens: 0, reserved: 0, held: 0, n: 0 });
  });
});

describe('settlement on completion', () => {
  it('completeRun releases the reservation and adds the attempts, once, however often it is retried', async () => {
    const orgId = fakeOrg();
    const runId = newId('run');
    expect((await reserveBudget(db, { orgId, runId, budget: 1_000, tokens: 300 })).isReserved).toBe(true);
    await recordAttempt(orgId, runId, 5, 3);
    await recordAttempt(orgId, runId, 5, 4); // a re-executed provider call: billed again
    const results = await Promise.all([1, 2, 3].map(() => completeRun(db, completion(orgId, runId))));
    expect(results.filter((r) => r.recorded)).toHaveLength(1);
    for (const r of results) expect(r).toMatchObject({ usage: { totalTokens: 17 }, attempts: 2 });
    expect(await ledger(orgId)).toEqual({ tokens: 17, reserved: 0, held: 0, n: 0 });
    expect((await completeRun(db, completion(orgId, runId))).recorded).toBe(false);
    expect(await ledger(orgId)).toEqual({ tokens: 17, reserved: 0, held: 0, n: 0 });
  });

  it('an attempt a crash left open counts as interrupted, with its estimate', async () => {
    const orgId = fakeOrg();
    const runId = newId('run');
    await startAttempt(db, {
      ...identity(orgId, runId),
      attemptId: randomUUID(),
      seq: 1,
      model: 'mock-1',
      provider: 'mock',
      isFirst: true,
      estimate: { promptTokens: 6, completionTokens: 0, totalTokens: 6, cost: 0 },
    });
    await recordAttempt(orgId, runId, 5, 3);
    const result = await completeRun(db, completion(orgId, runId));
    expect(result).toMatchObject({
      usage: { promptTokens: 11, completionTokens: 3, totalTokens: 14 },
      attempts: 2,
    });
    const rows = await sql<{ status: string }[]>`
      SELECT status FROM usage_events WHERE run_id = ${runId} AND kind = 'attempt' ORDER BY id`;
    expect(rows.map((r) => r.status)).toEqual(['interrupted', 'succeeded']);
  });

  it('a run that ends in the next month gives the reservation back to the month it was made in', async () => {
    const orgId = fakeOrg();
    const runId = newId('run');
    expect((await reserveBudget(db, { orgId, runId, budget: 1_000, tokens: 300 })).isReserved).toBe(true);
    // as if reserved last month
    await sql`UPDATE org_usage_monthly SET month = (month - interval '1 month')::date WHERE org_id = ${orgId}`;
    await sql`UPDATE budget_reservations SET month = (month - interval '1 month')::date WHERE run_id = ${runId}`;
    await recordAttempt(orgId, runId, 5, 3);
    await completeRun(db, completion(orgId, runId));
    const months = await sql<{ current: boolean; tokens: number; reserved: number }[]>`
      SELECT month = date_trunc('month', now() AT TIME ZONE 'UTC')::date AS current, tokens::int, reserved_tokens::int AS reserved
      FROM org_usage_monthly WHERE org_id = ${orgId} ORDER BY month`;
    expect(months).toEqual([
      { current: false, tokens: 0, reserved: 0 },
      { current: true, tokens: 8, reserved: 0 },
    ]);
  });
});

describe('the happy path: the successful call and the completion in one write', () => {
  it('completeRun with the closing attempt closes its row and counts its usage, with the others', async () => {
    const orgId = fakeOrg();
    const runId = newId('run');
    expect((await reserveBudget(db, { orgId, runId, budget: 1_000, tokens: 300 })).isReserved).toBe(true);
    await recordAttempt(orgId, runId, 5, 3); // a failed-then-retried call, say: billed, counted
    const attemptId = randomUUID();
    await startAttempt(db, {
      ...identity(orgId, runId),
      attemptId,
      seq: 2,
      model: 'mock-1',
      provider: 'mock',
      isFirst: false,
      estimate: { promptTokens: 6, completionTokens: 0, totalTokens: 6, cost: 0 },
    });
    const closing = {
      runId,
      attemptId,
      status: 'succeeded' as const,
      errorCode: null,
      usage: { promptTokens: 7, completionTokens: 9, totalTokens: 16, cost: 0.5 },
      latencyMs: 3,
    };
    const results = await Promise.all([1, 2].map(() => completeRun(db, completion(orgId, runId), closing)));
    expect(results.filter((r) => r.recorded)).toHaveLength(1);
    expect(results.find((r) => r.recorded)).toMatchObject({
      usage: { promptTokens: 12, completionTokens: 12, totalTokens: 24, cost: 0.5 },
      attempts: 2,
    });
    const rows = await sql<{ status: string; tokens: number; latency: number }[]>`
      SELECT status, (prompt_tokens + completion_tokens)::int AS tokens, latency_ms AS latency
      FROM usage_events WHERE run_id = ${runId} ORDER BY kind, id`;
    expect(rows).toEqual([
      { status: 'succeeded', tokens: 8, latency: 1 },
      { status: 'succeeded', tokens: 16, latency: 3 },
      { status: 'succeeded', tokens: 24, latency: 5 },
    ]);
    expect(await ledger(orgId)).toEqual({ tokens: 24, reserved: 0, held: 0, n: 0 });
  });

  it('a call repeated after the completion was recorded opens no attempt and gets the recorded outcome', async () => {
    const org = await createOrg({});
    const name = await createPrompt(org.key, { template: `${unique('done')} {{x}}` });
    const [p] = await sql<{ promptId: string; versionId: string }[]>`
      SELECT p.id AS "promptId", v.id AS "versionId" FROM prompts p JOIN prompt_versions v ON v.prompt_id = p.id
      WHERE p.org_id = ${org.orgId} AND p.name = ${name}`;
    const runId = newId('run');
    expect(
      await insertReservedRun(
        db,
        {
          id: runId,
          orgId: org.orgId,
          keyId: org.keyId,
          promptId: p!.promptId,
          versionId: p!.versionId,
          promptVersion: 1,
          mode: 'sync',
          variables: { x: '1' },
          metadata: null,
          webhookUrl: null,
          model: 'mock-1',
          idempotencyKey: null,
          requestHash: null,
        },
        null,
      ),
    ).toEqual({ outcome: 'inserted' });
    const start = (attemptId: string) =>
      startAttempt(db, {
        ...identity(org.orgId, runId),
        promptId: p!.promptId,
        attemptId,
        seq: 1,
        model: 'mock-1',
        provider: 'mock',
        isFirst: true,
        estimate: { promptTokens: 4, completionTokens: 0, totalTokens: 4, cost: 0 },
      });
    const first = randomUUID();
    expect(await start(first)).toBeUndefined();
    await completeRun(
      db,
      { ...completion(org.orgId, runId), promptId: p!.promptId, output: 'the answer' },
      {
        runId,
        attemptId: first,
        status: 'succeeded',
        errorCode: null,
        usage: { promptTokens: 4, completionTokens: 2, totalTokens: 6, cost: 0 },
        latencyMs: 2,
      },
    );
    // a new worker replays the workflow without the call's result and calls again
    expect(await start(randomUUID())).toEqual({
      status: 'succeeded',
      output: 'the answer',
      model: 'mock-1',
      errorCode: null,
      errorMessage: null,
      usage: { promptTokens: 4, completionTokens: 2, totalTokens: 6, cost: 0 },
      attempts: 1,
    });
    const rows = await sql`SELECT 1 FROM usage_events WHERE run_id = ${runId} AND kind = 'attempt'`;
    expect(rows).toHaveLength(1);
    // a completion after the first reports the first one's outcome
    const late = await completeRun(db, {
      ...completion(org.orgId, runId),
      promptId: p!.promptId,
      status: 'canceled',
      output: null,
      errorCode: 'RUN_CANCELED',
      errorMessage: 'Run was canceled',
    });
    expect(late).toMatchObject({
      recorded: false,
      attempts: 1,
      final: { status: 'succeeded', output: 'the answer' },
    });
  });
});

describe('runs that never start give their reservation back', () => {
  let org: TestOrg;
  let promptName: string;
  let previousRunning: string | undefined;

  async function newRun(mode: 'sync' | 'async', claimTokens: number): Promise<NewRun> {
    org ??= await createOrg({ tokenBudget: 1_000_000 });
    promptName ??= await createPrompt(org.key, { template: `${unique('never')} {{x}}` });
    const [p] = await sql<{ promptId: string; versionId: string }[]>`
      SELECT p.id AS "promptId", v.id AS "versionId"
      FROM prompts p JOIN prompt_versions v ON v.prompt_id = p.id AND v.version = 1
      WHERE p.org_id = ${org.orgId} AND p.name = ${promptName}`;
    const id = newId('run');
    const run: NewRun = {
      id,
      orgId: org.orgId,
      keyId: org.keyId,
      promptId: p!.promptId,
      versionId: p!.versionId,
      promptVersion: 1,
      mode,
      variables: { x: '1' },
      metadata: null,
      webhookUrl: null,
      model: 'mock-1',
      idempotencyKey: null,
      requestHash: null,
      // never started: the workflow input of an async run is a placeholder nobody reads here
      workflowInput: mode === 'async' ? ({ runId: id } as NewRun['workflowInput']) : null,
    };
    expect(await insertReservedRun(db, run, { budget: 1_000_000, tokens: claimTokens })).toEqual({
      outcome: 'inserted',
    });
    return run;
  }
  const heldBy = async (runId: string) =>
    (await sql<{ tokens: number }[]>`SELECT tokens::int FROM budget_reservations WHERE run_id = ${runId}`)[0]
      ?.tokens;

  it('a refused reservation inserts no run; a duplicate idempotency key reserves nothing', async () => {
    const tight = await createOrg({ tokenBudget: 10 });
    const name = await createPrompt(tight.key, { template: 'tight {{x}}' });
    const [p] = await sql<{ promptId: string; versionId: string }[]>`
      SELECT p.id AS "promptId", v.id AS "versionId" FROM prompts p JOIN prompt_versions v ON v.prompt_id = p.id
      WHERE p.org_id = ${tight.orgId} AND p.name = ${name}`;
    const row = (id: string): NewRun => ({
      id,
      orgId: tight.orgId,
      keyId: tight.keyId,
      promptId: p!.promptId,
      versionId: p!.versionId,
      promptVersion: 1,
      mode: 'sync',
      variables: {},
      metadata: null,
      webhookUrl: null,
      model: 'mock-1',
      idempotencyKey: 'same-key',
      requestHash: 'h',
    });
    const claim = { budget: 10, tokens: 50 };
    const first = newId('run');
    expect(await insertReservedRun(db, row(first), claim)).toEqual({ outcome: 'inserted' });
    const dup = newId('run');
    expect(await insertReservedRun(db, row(dup), claim)).toEqual({ outcome: 'duplicate' });
    const other = newId('run');
    expect(await insertReservedRun(db, { ...row(other), idempotencyKey: null }, claim)).toEqual({
      outcome: 'refused',
      used: 0,
      reserved: 50,
    });
    const runs = await sql<{ id: string }[]>`SELECT id FROM runs WHERE org_id = ${tight.orgId}`;
    expect(runs.map((r) => r.id)).toEqual([first]);
    expect(await ledger(tight.orgId)).toEqual({ tokens: 0, reserved: 50, held: 50, n: 1 });
  });

  it('cancel before dispatch, a failed start and an abandoned dispatch release; a run that started keeps it', async () => {
    const canceled = await newRun('async', 100);
    expect(await heldBy(canceled.id)).toBe(100);
    expect(await cancelUndispatchedRun(db, canceled.id)).toBe(true);
    expect(await heldBy(canceled.id)).toBeUndefined();

    const unstarted = await newRun('sync', 200);
    await failUnstartedRun(db, unstarted.id, 'SERVICE_UNAVAILABLE', 'no');
    expect(await heldBy(unstarted.id)).toBeUndefined();

    const running = await newRun('sync', 300);
    await sql`UPDATE runs SET status = 'running' WHERE id = ${running.id}`;
    await failUnstartedRun(db, running.id, 'SERVICE_UNAVAILABLE', 'no'); // not queued: not failed
    expect(await heldBy(running.id)).toBe(300);

    const abandoned = await newRun('async', 400);
    // older than any give-up time (the stack's own sweeper may abandon it first: the same function)
    await sql`UPDATE runs SET created_at = now() - interval '2 days' WHERE id = ${abandoned.id}`;
    await abandonUndispatchedRuns(db, {
      olderThanSeconds: 86_400,
      limit: 10,
      errorCode: 'SERVICE_UNAVAILABLE',
      errorMessage: 'gave up',
    });
    const [row] = await sql<{ status: string }[]>`SELECT status FROM runs WHERE id = ${abandoned.id}`;
    expect(row?.status).toBe('failed');
    expect(await heldBy(abandoned.id)).toBeUndefined();

    expect(await ledger(org.orgId)).toMatchObject({ reserved: 300, held: 300, n: 1 });
    await sql`UPDATE runs SET status = 'failed' WHERE id = ${running.id}`; // ends without settling
    previousRunning = running.id;
  });

  it('the sweep releases reservations of ended runs, of runs that do not exist and very old ones only', async () => {
    const ended = await newRun('sync', 10);
    await sql`UPDATE runs SET status = 'succeeded', finished_at = now() WHERE id = ${ended.id}`;
    const old = await newRun('sync', 20);
    await sql`UPDATE runs SET status = 'running' WHERE id = ${old.id}`;
    await sql`UPDATE budget_reservations SET created_at = now() - interval '3 hours' WHERE run_id = ${old.id}`;
    const fresh = await newRun('sync', 40);
    await sql`UPDATE runs SET status = 'running' WHERE id = ${fresh.id}`;
    // a reservation whose run never came (its transaction is long over)
    const ghostId = newId('run');
    expect(
      (await reserveBudget(db, { orgId: org.orgId, runId: ghostId, budget: 1_000_000, tokens: 80 }))
        .isReserved,
    ).toBe(true);
    await sql`UPDATE budget_reservations SET created_at = now() - interval '10 minutes' WHERE run_id = ${ghostId}`;
    expect(await ledger(org.orgId)).toMatchObject({ reserved: 300 + 150, held: 300 + 150, n: 5 });

    const released = await releaseStaleReservations(db, { maxAgeSeconds: 3_600, limit: 1_000 });
    // the previous test's run that was running has ended since: its reservation goes too
    expect(released).toEqual(expect.arrayContaining([ended.id, old.id, ghostId, previousRunning!]));
    expect(released).not.toContain(fresh.id);
    expect(await heldBy(fresh.id)).toBe(40);
    expect(await ledger(org.orgId)).toEqual({ tokens: 0, reserved: 40, held: 40, n: 1 });
    await sql`UPDATE runs SET status = 'failed' WHERE id IN ${sql([old.id, fresh.id])}`;
  });
});
