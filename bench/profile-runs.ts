/**
 * `npx tsx bench/profile-runs.ts` — where a sync run's CPU goes: one Promptmill stack under a
 * closed-loop sync load (c = BENCH_PROFILE_CONCURRENCY, default 32) for BENCH_PROFILE_SECONDS
 * (default 10), with `node --cpu-prof` on the api and worker processes. Prints CPU per run per process
 * and RSS peaks, then the top self-time entries of each profile (by function and by package).
 *
 * BENCH_PROFILE_DIR (default a temp dir) keeps the .cpuprofile files (open them in Chrome DevTools);
 * BENCH_PROFILE_ENV adds env for the api and worker, e.g. `API_EMBEDDED_WORKER=true`;
 * BENCH_PROFILE_CPU=false measures without the profiler (its own overhead is ~10–20 %);
 * PROMPTMILL_NODE_FLAGS replaces the V8 flags the stack gives the api and worker (stack/processes.ts).
 */
import { mkdirSync, mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { runCell } from './compare/loadgen.ts';
import { cpuDelta, cpuSnapshot, sampleRss } from './compare/procstat.ts';
import { startPromptmill } from './peers/promptmill.ts';

const env = process.env;
const seconds = Number(env.BENCH_PROFILE_SECONDS ?? 10);
const concurrency = Number(env.BENCH_PROFILE_CONCURRENCY ?? 32);
const isProfiling = env.BENCH_PROFILE_CPU !== 'false';
const dir = isProfiling ? (env.BENCH_PROFILE_DIR ?? mkdtempSync(join(os.tmpdir(), 'promptmill-prof-'))) : '';
if (isProfiling) mkdirSync(dir, { recursive: true });
const stream = env.BENCH_PROFILE_STREAM === 'true';

// the stack's children inherit this process's env: the profiler flags reach the api and worker only
// through NODE_OPTIONS set here (the Temporal CLI and Postgres ignore it)
const extra = Object.fromEntries(
  (env.BENCH_PROFILE_ENV ?? '')
    .split(/\s+/)
    .filter((kv) => kv.includes('='))
    .map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)]),
);
Object.assign(process.env, extra);
if (isProfiling) {
  process.env.NODE_OPTIONS = `${env.NODE_OPTIONS ?? ''} --cpu-prof --cpu-prof-dir=${dir}`.trim();
}
const sys = await startPromptmill({ mode: 'workflow' });
delete process.env.NODE_OPTIONS;
const say = (line: string) => process.stdout.write(`${line}\n`);
/** the measured phase, in the profiler's clock (µs, CLOCK_MONOTONIC like process.hrtime) */
const measured = { from: 0n, to: 0n };
const names = new Map<number, string>();
try {
  const spec = sys.request({ delayMs: 0, stream });
  const opts = {
    concurrency,
    maxRequests: 1_000_000,
    measureMs: seconds * 1000,
    warmupMs: 2000,
    timeoutMs: 60_000,
  };
  let before = new Map<string, number>();
  let rss: ReturnType<typeof sampleRss> | undefined;
  const result = await runCell(spec, opts, {
    onMeasureStart: () => {
      before = cpuSnapshot(sys.processes);
      rss = sampleRss(sys.processes);
      measured.from = process.hrtime.bigint() / 1000n;
    },
    onMeasureEnd: () => {
      measured.to = process.hrtime.bigint() / 1000n;
    },
  });
  for (const g of sys.processes) names.set(g.pid, g.name);
  await new Promise((r) => setTimeout(r, 1000));
  const cpu = cpuDelta(before, cpuSnapshot(sys.processes));
  const peaks = rss?.stop();
  say(
    `c=${concurrency}${stream ? ' stream' : ''}: ${result.throughput.toFixed(1)} runs/s, p50 ${result.p50.toFixed(1)} ms, p99 ${result.p99.toFixed(1)} ms, errors ${result.errors}/${result.count}; load ${os.loadavg()[0]!.toFixed(2)}`,
  );
  let total = 0;
  for (const [name, ms] of cpu) {
    total += ms / result.count;
    const peak = peaks?.get(name);
    say(
      `  ${name.padEnd(26)} ${(ms / result.count).toFixed(2).padStart(6)} ms/run   RSS max ${((peak?.rootKiB ?? 0) / 1024).toFixed(0)} MiB`,
    );
  }
  say(`  ${'all'.padEnd(26)} ${total.toFixed(2).padStart(6)} ms/run`);
  if (result.errors > 0) say(`  errors: ${result.errorSamples.join(' | ')}`);
} finally {
  await sys.stop();
}

if (isProfiling) {
  for (const file of readdirSync(dir).filter((f) => f.endsWith('.cpuprofile'))) {
    // CPU.<date>.<time>.<pid>.<thread>.<seq>.cpuprofile: thread 0 is the main thread
    const [, , , pid, thread] = file.split('.');
    const who = `${names.get(Number(pid)) ?? `pid ${pid}`}, thread ${thread}${thread === '0' ? ' (main)' : ''}`;
    summarize(join(dir, file), who);
  }
  say(`profiles in ${dir}`);
}

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}
interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
  startTime: number;
  endTime: number;
}

/** Self time per function and per package of one .cpuprofile (only the busy part: idle excluded). */
function summarize(file: string, who: string): void {
  const p = JSON.parse(readFileSync(file, 'utf8')) as Profile;
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const self = new Map<number, number>();
  // only the measured phase: start-up (module loading, bundling) and shutdown are left out
  let t = BigInt(p.startTime);
  for (let i = 0; i < p.samples.length; i++) {
    const delta = p.timeDeltas[i] ?? 0;
    t += BigInt(delta);
    if (t < measured.from || t > measured.to) continue;
    const id = p.samples[i]!;
    self.set(id, (self.get(id) ?? 0) + delta);
  }
  const fn = new Map<string, number>();
  const pkg = new Map<string, number>();
  let busy = 0;
  for (const [id, us] of self) {
    const n = byId.get(id)!;
    const name = n.callFrame.functionName || '(anonymous)';
    if (name === '(idle)') continue;
    busy += us;
    const url = n.callFrame.url;
    const where = url ? `${shortUrl(url)}:${n.callFrame.lineNumber + 1}` : '';
    const key = `${name} ${where}`.trim();
    fn.set(key, (fn.get(key) ?? 0) + us);
    const group = packageOf(url, name);
    pkg.set(group, (pkg.get(group) ?? 0) + us);
  }
  const top = (m: Map<string, number>, n: number) =>
    [...m]
      .sort((a, b) => b[1] - a[1])
      .slice(0, n)
      .map(
        ([k, us]) =>
          `    ${((us / busy) * 100).toFixed(1).padStart(5)} %  ${(us / 1000).toFixed(0).padStart(6)} ms  ${k}`,
      );
  if (busy === 0) return;
  const span = Number(measured.to - measured.from) / 1000;
  say(`\n${who}: busy ${(busy / 1000).toFixed(0)} ms of the ${span.toFixed(0)} ms measured (${file})`);
  say('  by package:');
  for (const l of top(pkg, 15)) say(l);
  say('  by function (self time):');
  for (const l of top(fn, 30)) say(l);
}

function shortUrl(url: string): string {
  const nm = url.lastIndexOf('node_modules/');
  if (nm >= 0) return url.slice(nm + 'node_modules/'.length);
  const repo = url.indexOf('/wt-');
  return repo >= 0 ? url.slice(url.indexOf('/', repo + 1) + 1) : url.replace(/^file:\/\//, '');
}

function packageOf(url: string, name: string): string {
  if (!url) return name.startsWith('(') ? name : '(native/builtin)';
  if (url.startsWith('node:')) return url.split('/')[0]!;
  const nm = url.lastIndexOf('node_modules/');
  if (nm >= 0) {
    const rest = url.slice(nm + 'node_modules/'.length).split('/');
    return rest[0]!.startsWith('@') ? `${rest[0]}/${rest[1]}` : rest[0]!;
  }
  if (url.includes('/workers/')) return 'promptmill/workers';
  if (url.includes('/api/')) return 'promptmill/api';
  if (url.includes('/infra/')) return 'promptmill/infra';
  if (url.includes('/workflows/')) return 'promptmill/workflows';
  return url
    .replace(/^file:\/\//, '')
    .split('/')
    .slice(0, 4)
    .join('/');
}
