/**
 * Run completion → webhook received, on the embedded stack (embedded Postgres, Temporal dev server,
 * one worker, one api, the mock provider at 0 ms), with a local receiver answering 200:
 *
 *   npx tsx bench/webhooks.bench.ts
 *
 * Each sync run's `prompt.executed` carries `data.finished_at` (the start of the transaction that
 * recorded the run's end, in which the event was written); the receiver notes when the webhook
 * arrived. Both clocks are this machine's. Also: from the client's answer to the webhook.
 * Phases: c=1 (BENCH_RUNS_C1, 100 runs, one at a time) and c=BENCH_CONCURRENCY (16) for
 * BENCH_WEBHOOK_RUNS (1,000) runs.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { startEphemeralStack } from '@promptmill/dev/stack';
import postgres from 'postgres';
import { percentile } from './lib.ts';

const RUNS = Number(process.env.BENCH_WEBHOOK_RUNS ?? 1000);
const RUNS_C1 = Number(process.env.BENCH_RUNS_C1 ?? 100);
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 16);
const adminToken = 'bench-admin-token-0123456789';

console.log('starting the stack (embedded Postgres, Temporal dev server, worker, api)…');
const running = await startEphemeralStack({
  adminToken,
  env: {
    LOG_LEVEL: 'warn',
    LOG_REQUESTS: 'false',
    GLOBAL_RATE_LIMIT_PER_MINUTE: '100000000',
    SYNC_RUN_MAX_IN_FLIGHT: '0',
    WEBHOOK_ALLOW_PRIVATE: 'true',
  },
});
const { stack } = running;

interface Arrival {
  at: number;
  finishedAt: number;
}
const arrivals = new Map<string, Arrival>();
const waiters = new Map<string, () => void>();
const receiver = createServer((req, res) => {
  const chunks: Buffer[] = [];
  req.on('data', (c: Buffer) => chunks.push(c));
  req.on('end', () => {
    const at = Date.now();
    const body = JSON.parse(Buffer.concat(chunks).toString()) as {
      data: { execution_id: string; finished_at: string };
    };
    arrivals.set(body.data.execution_id, { at, finishedAt: Date.parse(body.data.finished_at) });
    waiters.get(body.data.execution_id)?.();
    res.end('ok');
  });
});
await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r));
const receiverUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hook`;

async function post<T>(path: string, body: unknown, key?: string): Promise<T> {
  const res = await fetch(`${stack.apiUrl}${path}`, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      authorization: `Bearer ${key ?? adminToken}`,
    },
    body: JSON.stringify(body),
  });
  if (res.status >= 300) throw new Error(`${path}: ${res.status} ${await res.text()}`);
  return (await res.json()) as T;
}

const org = await post<{ data: { key: { key: string } } }>('/admin/v1/orgs', {
  name: 'bench-webhooks',
  plan: 'enterprise',
  limits: { perMinute: 10_000_000, perDay: 100_000_000 },
});
const key = org.data.key.key;
await post('/v1/prompts', { name: 'bench' }, key);
await post(
  '/v1/prompts/bench/versions',
  { template: 'Hi {{n}}', model: 'mock-1', labels: ['production'] },
  key,
);
await post('/v1/webhooks', { url: receiverUrl, events: ['prompt.executed'] }, key);

interface Sample {
  fromCompletion: number;
  fromAnswer: number;
}

async function oneRun(i: number): Promise<Sample> {
  const out = await post<{ runId: string }>(
    '/api/v1/run',
    { promptName: 'bench', variables: { n: String(i) } },
    key,
  );
  const answeredAt = Date.now();
  if (!arrivals.has(out.runId))
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no webhook for ${out.runId} within 30 s`)), 30_000);
      waiters.set(out.runId, () => {
        clearTimeout(timer);
        resolve();
      });
    });
  waiters.delete(out.runId);
  const a = arrivals.get(out.runId)!;
  return { fromCompletion: a.at - a.finishedAt, fromAnswer: a.at - answeredAt };
}

async function phase(label: string, total: number, concurrency: number) {
  const samples: Sample[] = [];
  let next = 0;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < total) samples.push(await oneRun(next++));
    }),
  );
  const seconds = (performance.now() - t0) / 1000;
  const fmt = (xs: number[]) => {
    const s = [...xs].sort((a, b) => a - b);
    return `p50 ${percentile(s, 50)} ms, p95 ${percentile(s, 95)} ms, p99 ${percentile(s, 99)} ms, max ${s.at(-1)} ms`;
  };
  console.log(
    `${label}: ${samples.length} runs in ${seconds.toFixed(1)} s (${(samples.length / seconds).toFixed(1)} runs/s)`,
  );
  console.log(`  run completion → webhook received: ${fmt(samples.map((s) => s.fromCompletion))}`);
  console.log(`  client's answer → webhook received: ${fmt(samples.map((s) => s.fromAnswer))}`);
}

const sql = postgres(stack.databaseUrl, { max: 1, onnotice: () => {} });

/** Where the time goes, from the rows: event committed → message fanned out → attempt logged. */
async function breakdown(since: Date) {
  const [row] = await sql<Record<string, number>[]>`
    SELECT
      percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM m.created_at - e.created_at)) * 1000 AS fan_p50,
      percentile_cont(0.95) WITHIN GROUP (ORDER BY extract(epoch FROM m.created_at - e.created_at)) * 1000 AS fan_p95,
      percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM a.created_at - m.created_at) * 1000 - a.latency_ms) AS start_p50,
      percentile_cont(0.95) WITHIN GROUP (ORDER BY extract(epoch FROM a.created_at - m.created_at) * 1000 - a.latency_ms) AS start_p95,
      percentile_cont(0.5) WITHIN GROUP (ORDER BY a.latency_ms) AS http_p50,
      percentile_cont(0.95) WITHIN GROUP (ORDER BY a.latency_ms) AS http_p95
    FROM webhook_messages m JOIN events e ON e.id = m.event_id
    JOIN webhook_attempts a ON a.message_id = m.id AND a.attempt = 1
    WHERE e.created_at >= ${since}`;
  const f = (v: number | undefined) => Math.round(Number(v));
  console.log(
    `  breakdown (rows): event commit → fanned out p50 ${f(row?.fan_p50)} / p95 ${f(row?.fan_p95)} ms; ` +
      `fanned out → attempt sent p50 ${f(row?.start_p50)} / p95 ${f(row?.start_p95)} ms; ` +
      `HTTP p50 ${f(row?.http_p50)} / p95 ${f(row?.http_p95)} ms`,
  );
}

try {
  await phase('warm-up', 20, 4);
  let since = new Date();
  await phase('c=1', RUNS_C1, 1);
  await breakdown(since);
  since = new Date();
  await phase(`c=${CONCURRENCY}`, RUNS, CONCURRENCY);
  await breakdown(since);
} finally {
  await sql.end();
  receiver.closeAllConnections();
  receiver.close();
  await running.stop();
}
