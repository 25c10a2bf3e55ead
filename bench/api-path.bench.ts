/**
 * The api's share of a sync run, on api processes under test started next to the stack's own:
 *
 *   npx tsx bench/api-path.bench.ts
 *
 * Per api under test, in rounds that alternate between them (a noisy moment hits both alike):
 * - c=1: latency of POST /api/v1/run, and the gap between the run's completion being recorded
 *   (`runs.finished_at`: the start of the completion transaction) and the client's answer;
 * - c=BENCH_CONCURRENCY: runs/s, latency, and CPU milliseconds per run of the api process (its
 *   /proc utime + stime, its esbuild helper included) and of the stack's worker, Temporal and Postgres.
 *
 * A/B: BENCH_B_ROOT=<dir> also starts the api of another checkout (e.g. `git archive main` unpacked
 * there, with its own `npm install`) against the same stack, as "B".
 * BENCH_CPU_PROF=<dir>: api A runs with the inspector on; its CPU is profiled during its c=N phases
 * only (not start-up or warm-up), written to <dir>, and its top entries are printed
 * (bench/cpuprofile-top.ts). Its CPU figures then include the sampling.
 *
 * Knobs: BENCH_ROUNDS (3), BENCH_RUNS_C1 (100), BENCH_RUNS_CN (400), BENCH_CONCURRENCY (16),
 * BENCH_DELAY_MS (0: the mock's answer delay), BENCH_API_ENV (JSON: extra env of the apis under test).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { freePort, startEphemeralStack, startService, stopChild } from '@promptmill/dev/stack';
import postgres from 'postgres';
import { cpuDelta, cpuSnapshot, descendants, type ProcessGroup } from './compare/procstat.ts';
import { summarize } from './cpuprofile-top.ts';
import { percentile } from './lib.ts';

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const RUNS_C1 = Number(process.env.BENCH_RUNS_C1 ?? 100);
const RUNS_CN = Number(process.env.BENCH_RUNS_CN ?? 400);
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 16);
const DELAY_MS = Number(process.env.BENCH_DELAY_MS ?? 0);
const PROF_DIR = process.env.BENCH_CPU_PROF ? resolve(process.env.BENCH_CPU_PROF) : undefined;
const B_ROOT = process.env.BENCH_B_ROOT ? resolve(process.env.BENCH_B_ROOT) : undefined;
const API_ENV = JSON.parse(process.env.BENCH_API_ENV ?? '{}') as Record<string, string>;

const adminToken = 'bench-admin-token-0123456789';
// quiet logs, a per-process breaker that never trips, and no load shedding (a closed loop of
// clients measures the cost of runs, not refusals)
const QUIET = {
  LOG_LEVEL: 'warn',
  LOG_REQUESTS: 'false',
  GLOBAL_RATE_LIMIT_PER_MINUTE: '100000000',
  SYNC_RUN_MAX_IN_FLIGHT: '0',
};
console.log('starting the stack (embedded Postgres, Temporal dev server, worker, api)…');
const running = await startEphemeralStack({ adminToken, env: QUIET });
const { stack } = running;
const sql = postgres(stack.databaseUrl, { max: 2, onnotice: () => {} });

interface ApiUnderTest {
  name: string;
  url: string;
  pid: number;
  child: ChildProcess;
  inspectorUrl?: string | undefined;
}

const apiEnv = async () => ({
  ...process.env,
  ...QUIET,
  ...API_ENV,
  DATABASE_URL: stack.databaseUrl,
  TEMPORAL_ADDRESS: stack.temporalAddress,
  ADMIN_TOKEN: adminToken,
  PORT: String(await freePort()),
});

async function startApiA(): Promise<ApiUnderTest> {
  let inspectorUrl: string | undefined;
  const api = await startService({
    name: 'api-A',
    entry: 'api/src/main.ts',
    env: { ...(await apiEnv()), ...(PROF_DIR ? { NODE_OPTIONS: '--inspect=127.0.0.1:0' } : {}) },
    readyEvent: 'api.ready',
    log: (l) => {
      inspectorUrl ??= /Debugger listening on (ws:\/\/\S+)/.exec(l)?.[1];
      if (!l.includes('Debugger') && !l.includes('inspector')) process.stderr.write(`${l}\n`);
    },
  });
  const pid = api.child.pid;
  if (pid === undefined) throw new Error('api A has no pid');
  return {
    name: 'A',
    url: `http://127.0.0.1:${String(api.ready.port)}`,
    pid,
    child: api.child,
    inspectorUrl,
  };
}

/** The api of another checkout, started from its own directory (its own node_modules and sources). */
async function startApiB(root: string): Promise<ApiUnderTest> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'api/src/main.ts'], {
    cwd: root,
    env: await apiEnv(),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  if (child.stderr)
    createInterface({ input: child.stderr }).on('line', (l) => process.stderr.write(`[api-B] ${l}\n`));
  const port = await new Promise<number>((ok, fail) => {
    child.once('exit', (code) => fail(new Error(`api B exited (${code})`)));
    if (child.stdout)
      createInterface({ input: child.stdout }).on('line', (l) => {
        if (l.startsWith('{"event":"api.ready"')) ok((JSON.parse(l) as { port: number }).port);
      });
  });
  if (child.pid === undefined) throw new Error('api B has no pid');
  return { name: 'B', url: `http://127.0.0.1:${port}`, pid: child.pid, child };
}

if (PROF_DIR) mkdirSync(PROF_DIR, { recursive: true });
const apis = [await startApiA(), ...(B_ROOT ? [await startApiB(B_ROOT)] : [])];

/** A minimal Chrome DevTools Protocol client: Profiler.start / Profiler.stop on the api under test. */
async function connectProfiler(url: string) {
  const ws = new WebSocket(url);
  await new Promise((ok, fail) => {
    ws.onopen = ok;
    ws.onerror = fail;
  });
  let seq = 0;
  const pending = new Map<number, (result: unknown) => void>();
  ws.onmessage = (e) => {
    const msg = JSON.parse(String(e.data)) as { id?: number; result?: unknown };
    if (msg.id !== undefined) pending.get(msg.id)?.(msg.result);
  };
  const send = (method: string, params: object = {}) =>
    new Promise<unknown>((ok) => {
      const id = ++seq;
      pending.set(id, ok);
      ws.send(JSON.stringify({ id, method, params }));
    });
  await send('Profiler.enable');
  await send('Profiler.setSamplingInterval', { interval: 200 });
  return {
    start: () => send('Profiler.start'),
    stop: async () => ((await send('Profiler.stop')) as { profile: Profile }).profile,
    close: () => ws.close(),
  };
}
type Profile = Parameters<typeof summarize>[0];

/** Merges the profiles of several phases into one (sample times stay per phase). */
function mergeProfiles(profiles: Profile[]): Profile | undefined {
  if (profiles.length === 0) return undefined;
  const merged: Profile = { nodes: [], samples: [], timeDeltas: [] };
  let offset = 0;
  for (const p of profiles) {
    let max = 0;
    for (const n of p.nodes) {
      merged.nodes.push({ ...n, id: n.id + offset, children: n.children?.map((c) => c + offset) });
      max = Math.max(max, n.id);
    }
    merged.samples.push(...p.samples.map((s) => s + offset));
    merged.timeDeltas.push(...p.timeDeltas);
    offset += max + 1;
  }
  return merged;
}

/** The stack's other processes (its own api excluded: idle) under this bench. */
function stackProcesses(exclude: ReadonlySet<number>): ProcessGroup[] {
  const groups: ProcessGroup[] = [];
  for (const p of descendants()) {
    if (exclude.has(p.pid)) continue;
    const exe = p.argv[0] ?? '';
    if (p.argv.includes('workers/src/main.ts')) groups.push({ name: 'worker', pid: p.pid });
    else if (exe.endsWith('/temporal') && p.argv.includes('start-dev'))
      groups.push({ name: 'temporal', pid: p.pid });
    else if (exe.endsWith('/postgres') && p.ppid === process.pid)
      groups.push({ name: 'postgres', pid: p.pid });
  }
  return groups;
}

async function post(url: string, token: string, body: unknown): Promise<Response> {
  return fetch(url, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
}

interface Sample {
  runId: string;
  ms: number;
  answeredAt: number;
}

interface Figures {
  p50: number[];
  p99: number[];
  gap50: number[];
  gap90: number[];
  rps: number[];
  pN50: number[];
  pN99: number[];
  cpu: Map<string, number[]>;
}

const profiles: Profile[] = [];
const figures = new Map<string, Figures>(
  apis.map((a) => [
    a.name,
    { p50: [], p99: [], gap50: [], gap90: [], rps: [], pN50: [], pN99: [], cpu: new Map() },
  ]),
);
const median = (xs: number[]) =>
  percentile(
    [...xs].sort((a, b) => a - b),
    50,
  );

try {
  const org = (await (
    await post(`${apis[0]!.url}/admin/v1/orgs`, adminToken, {
      name: 'bench',
      plan: 'enterprise',
      limits: { perMinute: 10_000_000, perDay: 100_000_000 },
    })
  ).json()) as { data: { key: { key: string } } };
  const key = org.data.key.key;
  await post(`${apis[0]!.url}/v1/prompts`, key, { name: 'bench' });
  const v = await post(`${apis[0]!.url}/v1/prompts/bench/versions`, key, {
    messages: [
      { role: 'system', content: 'You are a concise assistant. Answer in one sentence.' },
      { role: 'user', content: 'Summarize for {{name}}: {{text}}' },
    ],
    model: 'mock-1',
    labels: ['production'],
  });
  if (v.status !== 201) throw new Error(`setup failed: ${v.status} ${await v.text()}`);
  const text = `the quick brown fox${DELAY_MS > 0 ? ` [[mock:delay=${DELAY_MS}]]` : ''}`;
  const runBody = { promptName: 'bench', variables: { name: 'Ada', text } };

  const oneRun = async (base: string): Promise<Sample> => {
    const t0 = performance.now();
    const res = await post(`${base}/api/v1/run`, key, runBody);
    const body = (await res.json()) as { runId?: string };
    const answeredAt = Date.now();
    if (res.status !== 200 || !body.runId) throw new Error(`run: ${res.status} ${JSON.stringify(body)}`);
    return { runId: body.runId, ms: performance.now() - t0, answeredAt };
  };
  const load = async (base: string, total: number, concurrency: number) => {
    const samples: Sample[] = [];
    let started = 0;
    await Promise.all(
      Array.from({ length: concurrency }, async () => {
        while (started++ < total) samples.push(await oneRun(base));
      }),
    );
    return samples;
  };

  for (const api of apis) await load(api.url, 100, 4); // warm-up: JIT, pools, Temporal sticky caches
  const profiler =
    PROF_DIR && apis[0]?.inspectorUrl ? await connectProfiler(apis[0].inspectorUrl) : undefined;
  const others = stackProcesses(new Set(apis.map((a) => a.pid)));

  for (let round = 0; round < ROUNDS; round++) {
    for (const api of apis) {
      const fig = figures.get(api.name)!;
      const c1 = await load(api.url, RUNS_C1, 1);
      const finished = await sql<{ id: string; finishedAt: Date }[]>`
        SELECT id, finished_at AS "finishedAt" FROM runs WHERE id = ANY(${c1.map((s) => s.runId)})`;
      const finishedAt = new Map(finished.map((r) => [r.id, r.finishedAt.getTime()]));
      const gaps = c1
        .map((s) => s.answeredAt - (finishedAt.get(s.runId) ?? Number.NaN))
        .sort((a, b) => a - b);
      const lat1 = c1.map((s) => s.ms).sort((a, b) => a - b);
      fig.p50.push(percentile(lat1, 50));
      fig.p99.push(percentile(lat1, 99));
      fig.gap50.push(percentile(gaps, 50));
      fig.gap90.push(percentile(gaps, 90));

      const groups: ProcessGroup[] = [{ name: 'api', pid: api.pid }, ...others];
      if (api === apis[0]) await profiler?.start();
      const before = cpuSnapshot(groups);
      const t0 = performance.now();
      const cn = await load(api.url, RUNS_CN, CONCURRENCY);
      const seconds = (performance.now() - t0) / 1000;
      await new Promise((r) => setTimeout(r, 1000)); // work done after answering counts
      const cpu = cpuDelta(before, cpuSnapshot(groups));
      if (api === apis[0] && profiler) profiles.push(await profiler.stop());
      const latN = cn.map((s) => s.ms).sort((a, b) => a - b);
      fig.rps.push(cn.length / seconds);
      fig.pN50.push(percentile(latN, 50));
      fig.pN99.push(percentile(latN, 99));
      for (const [name, ms] of cpu) {
        const list = fig.cpu.get(name) ?? [];
        list.push(ms / cn.length);
        fig.cpu.set(name, list);
      }
    }
  }
  profiler?.close();

  const f = (n: number, d = 1) => n.toFixed(d);
  console.log(
    `\napi path: node ${process.version}, mock delay ${DELAY_MS} ms, ${ROUNDS} rounds (medians of the rounds' figures); ` +
      `load average at the end: ${readFileSync('/proc/loadavg', 'utf8').trim()}`,
  );
  for (const api of apis) {
    const fig = figures.get(api.name)!;
    console.log(
      `${api.name}${api.name === 'B' ? ` (${B_ROOT})` : ''}: c=1 ${RUNS_C1} runs/round: p50 ${f(median(fig.p50))} ms, p99 ${f(median(fig.p99))} ms; ` +
        `answer − finished_at p50 ${f(median(fig.gap50))} ms, p90 ${f(median(fig.gap90))} ms`,
    );
    console.log(
      `   c=${CONCURRENCY} ${RUNS_CN} runs/round: ${f(median(fig.rps))} runs/s, p50 ${f(median(fig.pN50))} ms, p99 ${f(median(fig.pN99))} ms; ` +
        `CPU ms per run: ${[...fig.cpu].map(([name, xs]) => `${name} ${f(median(xs), 2)}`).join(', ')}`,
    );
  }
  const profile = mergeProfiles(profiles);
  if (PROF_DIR && profile) {
    const file = join(PROF_DIR, `api-${new Date().toISOString().replaceAll(':', '-')}.cpuprofile`);
    writeFileSync(file, JSON.stringify(profile));
    console.log(`\nprofile of api A's c=${CONCURRENCY} phases: ${file}`);
    console.log(summarize(profile, 30));
  } else if (PROF_DIR) {
    console.log('no profile: api A printed no inspector address');
  }
} finally {
  for (const api of apis) await stopChild(api.child, 30_000);
  await sql.end();
  await running.stop();
}
