// Durability of chains: a worker killed (SIGKILL) in the middle of a chain resumes on a new worker
// without re-running finished steps, completes exactly once (one `workflow.completed` event), and
// its usage is the sum of every step attempt (the call the worker died in included).
// This file starts its OWN stack (it kills that stack's worker), with its own mock provider.
import type { MockProvider } from '@promptmill/dev/mock-provider';
import type { Stack } from '@promptmill/dev/stack';
import type postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { unique } from './helpers.ts';
import { type OwnStack, startOwnStack } from './own-stack.ts';

// the call the worker dies in must not time out before the kill (see worker-crash.test.ts)
const CRASH_ENV = { PROVIDER_TIMEOUT_MS: '60000' };
let own: OwnStack;
let stack: Stack;
let mock: MockProvider;
let sql: postgres.Sql;
let api: OwnStack['api'];

beforeAll(async () => {
  own = await startOwnStack({ name: 'chain-crash', env: CRASH_ENV, plan: 'enterprise' });
  ({ stack, mock, sql, api } = own);
}, 180_000);

afterAll(() => own?.stop());

async function createPrompt(template: string): Promise<string> {
  const name = unique('p');
  expect((await api('POST', '/v1/prompts', { name })).status).toBe(201);
  const v = await api('POST', `/v1/prompts/${name}/versions`, {
    template,
    model: 'mock-1',
    labels: ['production'],
  });
  expect(v.status).toBe(201);
  return name;
}

async function until(check: () => Promise<boolean> | boolean, what: string, timeoutMs = 30_000) {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

describe('worker crash mid-chain', () => {
  it('resumes without re-running finished steps and completes exactly once; usage = sum of step attempts', async () => {
    const m = unique('cc');
    const slow = await createPrompt(`${m} slow {{x}}`);
    const fast = await createPrompt(`${m} fast {{x}}`);
    const last = await createPrompt(`${m} last {{a}} {{b}}`);
    // the slow step's first call takes 10 s: the worker dies during it
    mock.addRule({ match: { contains: `${m} slow` }, times: 1, action: { type: 'delay', ms: 10_000 } });
    const def = await api<{ data: { id: string } }>('POST', '/v1/workflows', {
      name: unique('crash-chain'),
      input: [{ name: 'x' }],
      steps: [
        { id: 'slow', prompt: slow, variables: { x: '{{input.x}}' } },
        { id: 'fast', prompt: fast, variables: { x: '{{input.x}}' } },
        {
          id: 'last',
          prompt: last,
          dependsOn: ['slow', 'fast'],
          variables: { a: '{{steps.slow.output}}', b: '{{steps.fast.output}}' },
        },
      ],
    });
    expect(def.status).toBe(201);
    const started = await api<{ data: { id: string } }>('POST', `/v1/workflows/${def.body.data.id}/runs`, {
      input: { x: 'go' },
    });
    expect(started.status).toBe(202);
    const id = started.body.data.id;

    // the fast step has finished and the slow one is inside its provider call: kill the worker
    await until(async () => {
      const [row] = await sql<{ status: string }[]>`
        SELECT status FROM chain_run_steps WHERE chain_run_id = ${id} AND step_id = 'fast'`;
      return row?.status === 'succeeded' && mock.calls({ contains: `${m} slow` }).length === 1;
    }, 'the fast step to finish while the slow one is in flight');
    await stack.stopWorker({ crash: true });
    const killedAt = Date.now();
    await stack.startWorker();

    let run:
      | {
          status: string;
          usage: { totalTokens: number };
          attempts: number;
          steps: {
            id: string;
            status: string;
            runId: string;
            attempts: number;
            usage: { totalTokens: number };
          }[];
        }
      | undefined;
    await until(
      async () => {
        const res = await api<{ data: NonNullable<typeof run> }>('GET', `/v1/workflow-runs/${id}`);
        if (res.status !== 200) throw new Error(`GET chain run: ${res.status} ${res.text}`);
        run = res.body.data;
        return ['succeeded', 'failed', 'canceled'].includes(run.status);
      },
      'the chain to finish',
      60_000,
    );
    process.stderr.write(`[chain-crash] chain finished ${Date.now() - killedAt} ms after the kill\n`);

    expect(run!.status).toBe('succeeded');
    expect(run!.steps.map((s) => [s.id, s.status])).toEqual([
      ['slow', 'succeeded'],
      ['fast', 'succeeded'],
      ['last', 'succeeded'],
    ]);
    // finished steps were not run again; the interrupted call was repeated once
    // (the last step's prompt quotes the others' outputs: count calls by how their prompt starts)
    const callsOf = (p: string) =>
      mock
        .calls({ contains: m })
        .filter((c) => c.messages.some((msg) => msg.content.startsWith(`${m} ${p}`)));
    expect(callsOf('fast')).toHaveLength(1);
    expect(callsOf('slow')).toHaveLength(2);
    expect(callsOf('last')).toHaveLength(1);
    // one run per step, each completed once
    const runs = await sql<{ id: string; attempts: number; tokens: number }[]>`
      SELECT id, attempts, prompt_tokens + completion_tokens AS tokens FROM runs WHERE chain_run_id = ${id}`;
    expect(runs).toHaveLength(3);
    const runUsage = await sql<{ n: number }[]>`
      SELECT count(*)::int AS n FROM usage_events WHERE kind = 'run' AND run_id = ANY(${runs.map((r) => r.id)})`;
    expect(runUsage[0]?.n).toBe(3);
    // usage == the sum over every attempt of every step (the dead worker's call counted as interrupted)
    const attempts = await sql<{ status: string; tokens: number }[]>`
      SELECT status, prompt_tokens + completion_tokens AS tokens FROM usage_events
      WHERE kind = 'attempt' AND run_id = ANY(${runs.map((r) => r.id)})`;
    expect(attempts).toHaveLength(4);
    expect(attempts.filter((a) => a.status === 'interrupted')).toHaveLength(1);
    const total = attempts.reduce((n, a) => n + a.tokens, 0);
    expect(run!.usage.totalTokens).toBe(total);
    expect(run!.attempts).toBe(4);
    expect(run!.steps.find((s) => s.id === 'slow')?.attempts).toBe(2);
    const events = await sql<{ type: string }[]>`
      SELECT type FROM events WHERE payload->>'workflow_run_id' = ${id}`;
    expect(events).toEqual([{ type: 'workflow.completed' }]);
  }, 120_000);
});
