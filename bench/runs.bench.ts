/**
 * Run-path benchmark (issue 6), one process run against the zero-latency mock provider:
 *
 *   npx tsx bench/runs.bench.ts            (BENCH_SCALE=0.3 for a quick pass)
 *
 * Baselines: the provider called directly with the same openai-compatible request, and a bare
 * Temporal round trip (a no-op workflow, bench/noop.workflow.ts, executed on the same dev server by
 * a worker inside this process): the floor any Temporal-backed sync run sits on.
 * Measured: Promptmill's sync run (POST /api/v1/run) at 1 and 32 concurrent clients; the async
 * accept rate (POST /v1/runs → 202) and end-to-end async throughput (submit → every run finished).
 * Overhead = Promptmill latency − baseline latency at the same concurrency.
 */
import { randomUUID } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { startEphemeralStack } from '@promptmill/dev/stack';
import { Client, Connection } from '@temporalio/client';
import { DefaultLogger, NativeConnection, Runtime, Worker } from '@temporalio/worker';
import postgres from 'postgres';
import { type LoadResult, printTable, runLoad } from './lib.ts';

const scale = Number(process.env.BENCH_SCALE ?? 1);
const n = (x: number) => Math.max(20, Math.round(x * scale));

const adminToken = 'bench-admin-token-0123456789';
console.log('starting the stack (embedded Postgres, Temporal dev server, worker, api)…');
// BENCH_TEMPORAL=memory runs the dev server without its sqlite file (closer to a real cluster's write path)
const temporalInMemory = process.env.BENCH_TEMPORAL === 'memory';
const running = await startEphemeralStack({
  adminToken,
  temporalInMemory,
  env: { LOG_LEVEL: 'warn', LOG_REQUESTS: 'false' },
});
const { stack, mock } = running;
const sql = postgres(stack.databaseUrl, { max: 2, onnotice: () => {} });

// the Temporal floor: a no-op workflow on its own task queue, served by a worker in this process
const NOOP_QUEUE = 'bench-noop';
Runtime.install({ logger: new DefaultLogger('WARN') });
const noopConnection = await NativeConnection.connect({ address: stack.temporalAddress });
const noopWorker = await Worker.create({
  connection: noopConnection,
  taskQueue: NOOP_QUEUE,
  workflowsPath: fileURLToPath(new URL('./noop.workflow.ts', import.meta.url)),
});
const noopWorkerRun = noopWorker.run();
const temporalConnection = await Connection.connect({ address: stack.temporalAddress });
const temporal = new Client({ connection: temporalConnection });
const noopPrefix = `noop-${randomUUID().slice(0, 8)}`;
let noopCount = 0;
const noop = async () =>
  (await temporal.workflow.execute('noopWorkflow', {
    taskQueue: NOOP_QUEUE,
    workflowId: `${noopPrefix}-${noopCount++}`,
  })) === 'ok';

try {
  const api = stack.apiUrl;
  const json = { 'content-type': 'application/json' };
  const org = (await (
    await fetch(`${api}/admin/v1/orgs`, {
      method: 'POST',
      headers: { ...json, authorization: `Bearer ${adminToken}` },
      body: JSON.stringify({
        name: 'bench',
        plan: 'enterprise',
        limits: { perMinute: 10_000_000, perDay: 100_000_000 },
      }),
    })
  ).json()) as { data: { key: { key: string } } };
  const auth = { ...json, authorization: `Bearer ${org.data.key.key}` };
  await fetch(`${api}/v1/prompts`, {
    method: 'POST',
    headers: auth,
    body: JSON.stringify({ name: 'bench' }),
  });
  const v = await fetch(`${api}/v1/prompts/bench/versions`, {
    method: 'POST',
    headers: auth,
    body: JSON.stringify({
      template: 'Summarize for {{name}}: the quick brown fox.',
      model: 'mock-1',
      labels: ['production'],
    }),
  });
  if (v.status !== 201) throw new Error(`setup failed: ${v.status} ${await v.text()}`);

  const providerBody = JSON.stringify({
    model: 'mock-1',
    messages: [{ role: 'user', content: 'Summarize for Ada: the quick brown fox.' }],
  });
  const direct = async () =>
    (await fetch(`${mock.url}/chat/completions`, { method: 'POST', headers: json, body: providerBody })).ok &&
    (await Promise.resolve(true));
  const runBody = JSON.stringify({ promptName: 'bench', variables: { name: 'Ada' } });
  const sync = async () => {
    const r = await fetch(`${api}/api/v1/run`, { method: 'POST', headers: auth, body: runBody });
    await r.arrayBuffer();
    return r.status === 200;
  };

  // warm-up: JIT, pools, Temporal sticky caches
  await runLoad('warm-up', { concurrency: 4, total: 100, maxMs: 20_000 }, sync);
  await runLoad('warm-up', { concurrency: 4, total: 200, maxMs: 10_000 }, direct);
  await runLoad('warm-up', { concurrency: 4, total: 100, maxMs: 20_000 }, noop);

  const rows: LoadResult[] = [];
  for (const c of [1, 32]) {
    rows.push(
      await runLoad(
        'direct provider call',
        { concurrency: c, total: n(c === 1 ? 300 : 2000), maxMs: 30_000 },
        direct,
      ),
    );
    rows.push(
      await runLoad(
        'BASELINE bare Temporal no-op workflow',
        { concurrency: c, total: n(c === 1 ? 300 : 1000), maxMs: 60_000 },
        noop,
      ),
    );
    rows.push(
      await runLoad(
        'promptmill sync run (POST /api/v1/run)',
        { concurrency: c, total: n(c === 1 ? 300 : 1000), maxMs: 60_000 },
        sync,
      ),
    );
  }

  const asyncBody = JSON.stringify({ prompt: 'bench', variables: { name: 'Ada' } });
  const probe = await fetch(`${api}/v1/runs`, { method: 'POST', headers: auth, body: asyncBody });
  const hasAsync = probe.status === 202;
  await probe.arrayBuffer();
  let asyncE2e: { runs: number; seconds: number } | undefined;
  if (hasAsync) {
    const accept = async () => {
      const r = await fetch(`${api}/v1/runs`, { method: 'POST', headers: auth, body: asyncBody });
      await r.arrayBuffer();
      return r.status === 202;
    };
    // accept rate: the workflows it starts also load the machine, as in production
    rows.push(
      await runLoad(
        'async accept (POST /v1/runs → 202)',
        { concurrency: 32, total: n(2000), maxMs: 30_000 },
        accept,
      ),
    );
    // drain what the accept test queued before measuring end to end
    const waitIdle = async (deadlineMs: number) => {
      const end = Date.now() + deadlineMs;
      while (Date.now() < end) {
        const [r] = await sql`SELECT count(*)::int AS n FROM runs WHERE status IN ('queued', 'running')`;
        if (r?.n === 0) return;
        await new Promise((res) => setTimeout(res, 200));
      }
    };
    await waitIdle(180_000);
    const total = n(1000);
    const t0 = performance.now();
    const since = new Date();
    await runLoad('async submit (end-to-end batch)', { concurrency: 32, total, maxMs: 60_000 }, accept);
    await waitIdle(300_000);
    const seconds = (performance.now() - t0) / 1000;
    const [done] =
      await sql`SELECT count(*)::int AS n FROM runs WHERE created_at >= ${since} AND status = 'succeeded'`;
    asyncE2e = { runs: done?.n ?? 0, seconds };
  }

  console.log(
    `\nPromptmill run-path benchmark (scale ${scale}; mock provider, zero latency; ${process.version})\n`,
  );
  printTable(rows);
  for (const c of [1, 32]) {
    const s = rows.find((r) => r.label.startsWith('promptmill sync') && r.concurrency === c)!;
    for (const [name, prefix] of [
      ['the direct provider call', 'direct'],
      ['the bare Temporal round trip', 'BASELINE'],
    ] as const) {
      const d = rows.find((r) => r.label.startsWith(prefix) && r.concurrency === c)!;
      console.log(
        `sync overhead @${String(c).padStart(2)} clients vs ${name.padEnd(28)}: p50 +${(s.p50 - d.p50).toFixed(2)} ms, p99 +${(s.p99 - d.p99).toFixed(2)} ms` +
          `  (throughput ${s.throughput.toFixed(0)} vs ${d.throughput.toFixed(0)} req/s, ratio ${(s.throughput / d.throughput).toFixed(3)})`,
      );
    }
  }
  if (asyncE2e) {
    console.log(
      `async end-to-end: ${asyncE2e.runs} runs finished in ${asyncE2e.seconds.toFixed(1)} s = ${(asyncE2e.runs / asyncE2e.seconds).toFixed(1)} runs/s`,
    );
  } else {
    console.log('async routes not available (POST /v1/runs did not answer 202): async figures skipped');
  }
  console.log(
    'targets (2 cores): sync overhead p50 ≤ 15 ms, p99 ≤ 60 ms; async accept ≥ 500/s; async end-to-end ≥ 150 runs/s',
  );
} finally {
  noopWorker.shutdown();
  await noopWorkerRun.catch(() => {});
  await noopConnection.close();
  await temporalConnection.close();
  await sql.end();
  await running.stop();
}
