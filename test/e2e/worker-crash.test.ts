// Durability: a worker killed (SIGKILL) in the middle of a provider call loses nothing — a new
// worker replays the run's workflow, calls the model again and completes the run exactly once.
// Every provider call is an attempt, counted once: the call the worker died in too (also when it had
// answered and the run's completion was waiting to commit), and the call the new worker repeats.
// This file starts its OWN stack (it kills that stack's worker), with its own mock provider.
import { countWords, type MockProvider, splitWordChunks } from '@promptmill/dev/mock-provider';
import { type Stack, startService, stopChild } from '@promptmill/dev/stack';
import type postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { E2E_ENV } from './global-setup.ts';
import { call, unique } from './helpers.ts';
import { type OwnStack, startOwnStack } from './own-stack.ts';

// The provider calls that a worker dies in must not time out before the kill: starting a second
// worker takes several seconds on a loaded machine, more than the shared 5 s PROVIDER_TIMEOUT_MS
// (the call then fails first, and the run rightly records a failed attempt and a retried one).
const CRASH_ENV = { ...E2E_ENV, PROVIDER_TIMEOUT_MS: '60000' };
let own: OwnStack;
let stack: Stack;
let mock: MockProvider;
let sql: postgres.Sql;
let key: string;
let orgId: string;
let logs: string[];

beforeAll(async () => {
  own = await startOwnStack({ name: 'worker-crash', env: { ...CRASH_ENV, SYNC_RUN_TIMEOUT_MS: '50000' } });
  ({ stack, mock, sql, key, orgId, logs } = own);
}, 180_000);

afterAll(() => own?.stop());

async function createPrompt(template: string): Promise<string> {
  const name = unique('crash-prompt');
  const p = await call('POST', '/v1/prompts', { baseUrl: stack.apiUrl, key, body: { name } });
  expect(p.status).toBe(201);
  const v = await call('POST', `/v1/prompts/${name}/versions`, {
    baseUrl: stack.apiUrl,
    key,
    body: { template, model: 'mock-1', labels: ['production'] },
  });
  expect(v.status).toBe(201);
  return name;
}

async function waitForCall(marker: string, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (mock.calls({ contains: marker }).length === 0) {
    if (Date.now() > deadline) throw new Error(`the provider never saw ${marker}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

async function usageOf(runId: string) {
  return sql<{ kind: string; seq: number; status: string; completionTokens: number }[]>`
    SELECT kind, seq, status, completion_tokens AS "completionTokens"
    FROM usage_events WHERE run_id = ${runId} ORDER BY kind, seq, id`;
}

async function until(
  check: () => Promise<boolean> | boolean,
  what: string,
  timeoutMs = 20_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('worker crash mid-run', () => {
  it('completes a sync run exactly once after the worker is killed during the provider call', async () => {
    const marker = unique('crash');
    const name = await createPrompt(`${marker} please answer slowly`);
    // the first call takes 10 s (the worker dies during it); the re-run after recovery is immediate
    mock.addRule({ match: { contains: marker }, times: 1, action: { type: 'delay', ms: 10_000 } });

    const started = Date.now();
    const pending = call<{
      success: boolean;
      runId: string;
      output: string;
      usage: { completionTokens: number };
    }>('POST', '/api/v1/run', { baseUrl: stack.apiUrl, key, body: { promptName: name } });
    await waitForCall(marker);
    await stack.stopWorker({ crash: true });
    const killedAt = Date.now();
    await stack.startWorker();
    const workerBackAt = Date.now();
    const res = await pending;
    const finishedAt = Date.now();

    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ success: true, output: `Echo: ${marker} please answer slowly` });
    const { runId } = res.body;
    // the killed call never finished; a new worker made the call again
    expect(mock.calls({ contains: marker })).toHaveLength(2);

    // two provider calls, two attempts: the killed one is recorded as interrupted (its prompt
    // estimated, its answer unknown), the repeated one with the provider's usage
    const [run] = await sql<{ status: string; attempts: number }[]>`
      SELECT status, attempts FROM runs WHERE id = ${runId}`;
    expect(run).toEqual({ status: 'succeeded', attempts: 2 });
    const usage = await usageOf(runId);
    expect(usage.filter((u) => u.kind === 'run')).toEqual([
      { kind: 'run', seq: 0, status: 'succeeded', completionTokens: 5 },
    ]);
    expect(usage.filter((u) => u.kind === 'attempt')).toEqual([
      { kind: 'attempt', seq: 1, status: 'interrupted', completionTokens: 0 },
      { kind: 'attempt', seq: 1, status: 'succeeded', completionTokens: 5 },
    ]);
    const [month] = await sql<{ runs: number }[]>`
      SELECT runs::int FROM org_usage_monthly m JOIN runs r ON r.org_id = m.org_id WHERE r.id = ${runId}`;
    expect(month?.runs).toBe(1);

    process.stderr.write(
      `[worker-crash] sync run: killed ${killedAt - started} ms after start; new worker ready after ` +
        `${workerBackAt - killedAt} ms; run finished ${finishedAt - killedAt} ms after the kill\n`,
    );
    expect(finishedAt - killedAt).toBeLessThan(30_000);
  }, 60_000);

  it('moves a run to a worker that is already running within about one workflow-task timeout', async () => {
    const marker = unique('handover');
    const name = await createPrompt(`${marker} take your time`);
    mock.addRule({ match: { contains: marker }, times: 1, action: { type: 'delay', ms: 30_000 } });

    const pending = call<{ success: boolean; runId: string; output: string }>('POST', '/api/v1/run', {
      baseUrl: stack.apiUrl,
      key,
      body: { promptName: name },
    });
    await waitForCall(marker);
    // a second worker joins while the first is in the middle of the provider call
    const second = await startService({
      name: 'worker-2',
      entry: 'workers/src/main.ts',
      env: {
        ...process.env,
        ...CRASH_ENV,
        DATABASE_URL: stack.databaseUrl,
        TEMPORAL_ADDRESS: stack.temporalAddress,
        OPENAI_BASE_URL: mock.url,
        WORKER_METRICS_PORT: '0',
      },
      readyEvent: 'worker.ready',
      log: (l) => logs.push(l),
      timeoutMs: 120_000,
    });
    try {
      await stack.stopWorker({ crash: true });
      const killedAt = Date.now();
      const res = await pending;
      const recoveredIn = Date.now() - killedAt;

      expect(res.status).toBe(200);
      expect(res.body).toMatchObject({ success: true, output: `Echo: ${marker} take your time` });
      expect(mock.calls({ contains: marker })).toHaveLength(2);
      const usage = await usageOf(res.body.runId);
      expect(usage.filter((u) => u.kind === 'run')).toHaveLength(1);
      expect(usage.filter((u) => u.kind === 'attempt').map((u) => u.status)).toEqual([
        'interrupted',
        'succeeded',
      ]);
      process.stderr.write(
        `[worker-crash] handover to a running worker: finished ${recoveredIn} ms after the kill\n`,
      );
      // the api starts runs with a 3 s workflow-task timeout: the dead worker's task expires within it
      expect(recoveredIn).toBeLessThan(8_000);
    } finally {
      await stopChild(second.child, 10_000);
      await stack.startWorker();
    }
  }, 60_000);

  it('counts both calls when the worker dies while its completion waits: the dead one as interrupted', async () => {
    const marker = unique('recall');
    const text = `${marker} count me twice`;
    const name = await createPrompt(text);
    // The run's completion (one transaction with the successful call's usage row) writes the org's
    // month row: a transaction here holds that row, so the completion waits, and the workflow task
    // that ran the provider call stays open (local activities are recorded in history when it
    // completes) until the worker is killed. The dead worker's transaction never commits.
    const month = sql`date_trunc('month', now() AT TIME ZONE 'UTC')::date`;
    await sql`INSERT INTO org_usage_monthly (org_id, month) VALUES (${orgId}, ${month}) ON CONFLICT DO NOTHING`;
    let release = () => {};
    const released = new Promise<void>((r) => {
      release = r;
    });
    let locked = () => {};
    const isLocked = new Promise<void>((r) => {
      locked = r;
    });
    const holder = sql.begin(async (tx) => {
      await tx`SELECT 1 FROM org_usage_monthly WHERE org_id = ${orgId} AND month = ${month} FOR UPDATE`;
      locked();
      await released;
    });
    await isLocked;
    try {
      const pending = call<{ success: boolean; runId: string; usage: { totalTokens: number } }>(
        'POST',
        '/api/v1/run',
        { baseUrl: stack.apiUrl, key, body: { promptName: name } },
      );
      // the provider answered; the worker's completion waits for the month row
      await until(() => mock.calls({ contains: marker }).length >= 1, 'the first provider call');
      await until(async () => {
        const rows = await sql`
          SELECT 1 FROM pg_stat_activity
          WHERE application_name = 'promptmill-worker' AND wait_event_type = 'Lock'`;
        return rows.length > 0;
      }, 'the completion waiting for the month row');
      await stack.stopWorker({ crash: true });
      await stack.startWorker();
      // the new worker replays the workflow without the call's result: it calls the provider again
      await until(() => mock.calls({ contains: marker }).length >= 2, 'the repeated provider call');
      release();
      await holder;
      const res = await pending;

      expect(res.status).toBe(200);
      expect(mock.calls({ contains: marker })).toHaveLength(2);
      const attempts = await sql<{ status: string; tokens: number }[]>`
        SELECT u.status, u.prompt_tokens + u.completion_tokens AS tokens
        FROM usage_events u WHERE u.run_id = ${res.body.runId} AND u.kind = 'attempt' ORDER BY u.id`;
      // the dead worker's call: its prompt estimated, its answer never recorded; the repeated one in full
      const perCall = countWords(text) + 3 + countWords(`Echo: ${text}`);
      expect(attempts.map((a) => a.status)).toEqual(['interrupted', 'succeeded']);
      expect(attempts[1]?.tokens).toBe(perCall);
      const sum = attempts.reduce((n, a) => n + a.tokens, 0);
      expect(res.body.usage.totalTokens).toBe(sum);
      const [run] = await sql<{ attempts: number; tokens: number }[]>`
        SELECT attempts, prompt_tokens + completion_tokens AS tokens FROM runs WHERE id = ${res.body.runId}`;
      expect(run).toEqual({ attempts: 2, tokens: sum });
      const usage = await usageOf(res.body.runId);
      expect(usage.filter((u) => u.kind === 'run')).toHaveLength(1);
    } finally {
      release();
      await holder.catch(() => {});
    }
  }, 60_000);

  it('finishes a stream the worker died in: the client gets every delta once, then done', async () => {
    const marker = unique('crashstream');
    const content = `${marker} one two three four five six`;
    const name = await createPrompt(content);
    // slow chunks on the first call only: the worker dies after the first delta
    mock.addRule({
      match: { contains: marker },
      times: 1,
      action: { type: 'delay', ms: 0, chunkDelayMs: 1_000 },
    });

    const res = await fetch(`${stack.apiUrl}/api/v1/run`, {
      method: 'POST',
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
      body: JSON.stringify({ promptName: name, stream: true }),
    });
    expect(res.status).toBe(200);
    const runId = res.headers.get('x-run-id')!;
    const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader();
    let text = '';
    let isKilled = false;
    let killedAt = 0;
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      text += value;
      if (!isKilled && text.includes('event: delta')) {
        isKilled = true;
        await stack.stopWorker({ crash: true });
        killedAt = Date.now();
        await stack.startWorker();
      }
    }
    const events = text
      .split('\n\n')
      .filter((b) => b.startsWith('event: '))
      .map((b) => {
        const [eventLine, dataLine] = b.split('\n');
        return {
          event: eventLine!.slice(7),
          data: JSON.parse(dataLine!.slice(6)) as Record<string, unknown>,
        };
      });
    const expected = `Echo: ${content}`;
    // every character exactly once, in order, although the re-run streamed the text again
    const deltas = events.filter((e) => e.event === 'delta').map((e) => String(e.data.delta));
    expect(deltas.join('')).toBe(expected);
    expect(deltas[0]).toBe(splitWordChunks(expected)[0]);
    expect(events.filter((e) => e.event === 'done')).toHaveLength(1);
    expect(events.at(-1)).toMatchObject({ event: 'done', data: { runId, output: expected } });
    expect(mock.calls({ contains: marker })).toHaveLength(2);

    const usage = await usageOf(runId);
    expect(usage.filter((u) => u.kind === 'run')).toEqual([
      { kind: 'run', seq: 0, status: 'succeeded', completionTokens: 8 },
    ]);
    process.stderr.write(`[worker-crash] stream: done ${Date.now() - killedAt} ms after the kill\n`);
  }, 60_000);
});
