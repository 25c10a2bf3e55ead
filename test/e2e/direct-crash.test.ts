// Crash safety of direct mode: an api process that dies mid-run leaves its run `running`; once the
// run's lease has run out, another api process's sweep fails it (SERVICE_UNAVAILABLE) and settles it
// like any completion: the call the process died in counted as interrupted at its estimate, the run's
// usage row, the month's totals, the budget reservation released. A live process renews its leases,
// so a run longer than the lease is not swept.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runPrompt, startDirectApi, usageRows } from './direct-support.ts';
import { createOrg, createPrompt, mock, type TestOrg, unique } from './helpers.ts';
import { type ExtraApi, startExtraApi } from './limits-support.ts';
import { testSql } from './runs-support.ts';

const sql = testSql();
const LEASE_MS = 1_500;
/** the sweeping process (workflow mode: every api process sweeps) looks every 1000 / 3 ms */
const SWEEPER_LEASE_MS = 1_000;

let org: TestOrg;
let sweeper: ExtraApi;
const started: ExtraApi[] = [];

beforeAll(async () => {
  [org, sweeper] = await Promise.all([
    createOrg({ plan: 'enterprise', tokenBudget: 1_000_000 }),
    startExtraApi({ DIRECT_RUN_LEASE_MS: String(SWEEPER_LEASE_MS) }),
  ]);
});
afterAll(async () => {
  await Promise.all([sweeper?.stop(), ...started.map((a) => a.stop().catch(() => {}))]);
});

async function runRow(runId: string) {
  const [row] = await sql<
    {
      status: string;
      errorCode: string | null;
      errorMessage: string | null;
      attempts: number;
      promptTokens: number;
    }[]
  >`SELECT status, error_code AS "errorCode", error_message AS "errorMessage", attempts,
           prompt_tokens AS "promptTokens" FROM runs WHERE id = ${runId}`;
  return row;
}

async function month() {
  const [row] = await sql<{ tokens: number; reserved: number; runs: number }[]>`
    SELECT tokens::int, reserved_tokens::int AS reserved, runs::int FROM org_usage_monthly
    WHERE org_id = ${org.orgId} AND month = date_trunc('month', now() AT TIME ZONE 'UTC')::date`;
  return row;
}

describe('direct mode: leases', () => {
  it('a run longer than its lease keeps it renewed and succeeds', async () => {
    // 3.5 s: over twice the lease, under the e2e provider timeout (5 s)
    const api = await startDirectApi({ DIRECT_RUN_LEASE_MS: String(LEASE_MS) });
    started.push(api);
    const marker = unique('long');
    const name = await createPrompt(org.key, { template: `${marker} {{text}}` });
    const rule = await mock.addRule({
      match: { contains: marker },
      action: { type: 'delay', ms: 3_500 },
    });
    try {
      const answer = await runPrompt(api.url, org.key, { promptName: name, variables: { text: 'x' } });
      expect(answer.status).toBe(200);
      expect(await runRow(answer.runId!)).toMatchObject({
        status: 'succeeded',
        errorCode: null,
        attempts: 1,
      });
    } finally {
      await mock.removeRule(rule);
      await api.stop();
    }
  });

  it('an api process killed mid-run: its run fails within lease + sweep, usage and reservation settled', async () => {
    const victim = await startDirectApi({ DIRECT_RUN_LEASE_MS: String(LEASE_MS) });
    started.push(victim);
    const marker = unique('crash');
    const name = await createPrompt(org.key, { template: `${marker} {{text}}` });
    const rule = await mock.addRule({ match: { contains: marker }, action: { type: 'hang' } });
    try {
      const before = (await month()) ?? { tokens: 0, reserved: 0, runs: 0 };
      const answering = runPrompt(victim.url, org.key, { promptName: name, variables: { text: 'x' } }).catch(
        (err: unknown) => err,
      );
      await expect.poll(async () => (await mock.calls({ contains: marker })).length).toBe(1);
      const [run] = await sql<{ id: string; status: string; mode: string }[]>`
        SELECT r.id, r.status, r.mode FROM runs r JOIN prompts p ON p.id = r.prompt_id
        WHERE p.name = ${name} AND p.org_id = ${org.orgId}`;
      expect(run).toMatchObject({ status: 'running', mode: 'direct' });
      const [reservation] = await sql<{ tokens: number }[]>`
        SELECT tokens::int FROM budget_reservations WHERE run_id = ${run!.id}`;
      expect(reservation!.tokens).toBeGreaterThan(0);
      expect((await month())!.reserved - before.reserved).toBe(reservation!.tokens);

      const exited = new Promise((resolve) => victim.process.child.once('exit', resolve));
      victim.process.child.kill('SIGKILL');
      await exited;
      const killedAt = Date.now();
      expect(await answering).toBeInstanceOf(Error); // the client lost its connection

      await expect
        .poll(async () => (await runRow(run!.id))?.status, { timeout: 10_000, interval: 50 })
        .toBe('failed');
      const elapsed = Date.now() - killedAt;
      // the lease was set at most LEASE_MS before the kill; the sweep looks every SWEEPER_LEASE_MS / 3
      expect(elapsed).toBeLessThan(LEASE_MS + SWEEPER_LEASE_MS / 3 + 1_000);

      const row = await runRow(run!.id);
      expect(row).toMatchObject({
        status: 'failed',
        errorCode: 'SERVICE_UNAVAILABLE',
        errorMessage: 'The api process running this run stopped',
        attempts: 1,
      });
      // the call it died in: counted as interrupted, at its prompt estimate (what the provider may bill)
      const rows = await usageRows(sql, run!.id);
      expect(rows).toMatchObject([
        { kind: 'attempt', status: 'interrupted', completionTokens: 0 },
        { kind: 'run', status: 'failed', errorCode: 'SERVICE_UNAVAILABLE' },
      ]);
      const estimate = (rows[0] as { promptTokens: number }).promptTokens;
      expect(estimate).toBeGreaterThan(0);
      expect(rows[1]).toMatchObject({ promptTokens: estimate });
      expect(row!.promptTokens).toBe(estimate);
      // settled: the reservation released, the estimate counted in the month
      expect(await sql`SELECT 1 FROM budget_reservations WHERE run_id = ${run!.id}`).toHaveLength(0);
      expect(await month()).toMatchObject({
        reserved: before.reserved,
        tokens: before.tokens + estimate,
        runs: before.runs + 1,
      });
    } finally {
      await mock.removeRule(rule);
    }
  });
});
