/**
 * `npm run bench:compare` — Promptmill measured side by side with the upstream called directly,
 * the Portkey gateway and the LiteLLM proxy, in one run (issue "Performance", item 4).
 *
 * Every system gets the same chat request on the same mock upstream (the project's mock provider,
 * in this process): sync at c = 1 / 32 / 128 clients with 0 and 200 ms upstream delay, streaming
 * at c = 1 / 32, then the rate-limited authenticated read; CPU per request per process, RSS under
 * load. Systems are interleaved cell by cell (direct, Portkey, LiteLLM, Promptmill) so machine
 * noise hits all of them alike; Promptmill's direct sync-run mode runs on a second stack afterwards
 * when the api supports it. Output: markdown on stdout and in bench/results/compare-<date>.md.
 *
 * Knobs (environment): BENCH_CELL_SECONDS (measured phase per cell, default 5), BENCH_WARMUP_SECONDS
 * (default 1), BENCH_CONCURRENCY (default 1,32,128), BENCH_STREAM_CONCURRENCY (default 1,32),
 * BENCH_DELAYS (default 0,200), BENCH_SYSTEMS (subset of direct,portkey,litellm,promptmill-workflow,
 * promptmill-direct; promptmill-eager, off by default, adds a second workflow-mode stack whose api
 * hosts a worker and starts sync runs eagerly, interleaved with the others), BENCH_MAX_REQUESTS (per cell; default 2,000 at c=1, 20,000 above),
 * BENCH_NOTE (a line for the report, e.g. how busy the machine was), BENCH_RESULTS (output file).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { fileURLToPath } from 'node:url';
import { liteLlmInstalled, startLiteLlm } from '../peers/litellm.ts';
import { portkeyInstalled, startPortkey } from '../peers/portkey.ts';
import {
  EAGER_VARIANT,
  type PromptmillSystem,
  startPromptmill,
  syncRunModeSupport,
} from '../peers/promptmill.ts';
import { directUpstream, type SystemUnderTest } from '../peers/request.ts';
import { type CellResult, type RequestSpec, runCell } from './loadgen.ts';
import { cpuDelta, cpuSnapshot, type RssPeak, sampleRss } from './procstat.ts';
import {
  type Cell,
  cellName,
  type Measurement,
  type RateLimitedRead,
  renderReport,
  type SystemInfo,
} from './report.ts';

const env = process.env;
const list = (value: string | undefined, fallback: string) =>
  (value ?? fallback)
    .split(',')
    .map((x) => x.trim())
    .filter((x) => x.length > 0);
const numbers = (value: string | undefined, fallback: string) => list(value, fallback).map(Number);

const measureMs = Number(env.BENCH_CELL_SECONDS ?? 5) * 1000;
const warmupMs = Number(env.BENCH_WARMUP_SECONDS ?? 1) * 1000;
const maxRequests = (c: number) => Number(env.BENCH_MAX_REQUESTS ?? (c === 1 ? 2_000 : 20_000));
const wanted = new Set(
  list(env.BENCH_SYSTEMS, 'direct,portkey,litellm,promptmill-workflow,promptmill-direct'),
);
const cells: Cell[] = [
  ...numbers(env.BENCH_DELAYS, '0,200').flatMap((delayMs) =>
    numbers(env.BENCH_CONCURRENCY, '1,32,128').map(
      (concurrency): Cell => ({ kind: 'sync', concurrency, delayMs }),
    ),
  ),
  ...numbers(env.BENCH_STREAM_CONCURRENCY, '1,32').map(
    (concurrency): Cell => ({ kind: 'stream', concurrency, delayMs: 0 }),
  ),
];
const RSS_CELL: Cell = { kind: 'sync', concurrency: 32, delayMs: 0 };
/** after a cell, CPU keeps being counted this long: work a system does after answering (batched usage writes, history cleanup) */
const SETTLE_MS = 1_000;
const RATE_LIMIT_CONCURRENCY = 32;

const say = (line: string) => process.stderr.write(`[bench:compare] ${line}\n`);
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  // exit through process.exit so every child's exit hook (SIGTERM to it) runs
  process.once(signal, () => process.exit(130));
}

const startedAt = new Date();
const t0 = performance.now();
const loadBefore = os.loadavg();
const systems: SystemInfo[] = [];
const measurements: Measurement[] = [];
const notes: string[] = [];
if (env.BENCH_NOTE) notes.push(env.BENCH_NOTE);
let rateLimitedRead: RateLimitedRead | undefined;
let failures = 0;

function summary(r: CellResult): string {
  const fc = r.firstContent ? `, first content p50 ${r.firstContent.p50.toFixed(1)} ms` : '';
  return `${r.throughput.toFixed(1)} req/s, p50 ${r.p50.toFixed(2)} ms, p99 ${r.p99.toFixed(2)} ms${fc}, errors ${r.errors}/${r.count}`;
}

async function measure(sys: SystemUnderTest, cell: Cell): Promise<void> {
  const groups = sys.processes;
  let before = new Map<string, number>();
  let rss: { stop(): Map<string, RssPeak> } | undefined;
  let peaks: Map<string, RssPeak> | undefined;
  const sampleMemory =
    cell.kind === RSS_CELL.kind &&
    cell.concurrency === RSS_CELL.concurrency &&
    cell.delayMs === RSS_CELL.delayMs;
  const result = await runCell(
    sys.request({ delayMs: cell.delayMs, stream: cell.kind === 'stream' }),
    {
      concurrency: cell.concurrency,
      maxRequests: maxRequests(cell.concurrency),
      measureMs,
      warmupMs,
      timeoutMs: 60_000,
    },
    {
      onMeasureStart: () => {
        before = cpuSnapshot(groups);
        if (sampleMemory) rss = sampleRss(groups);
      },
      onMeasureEnd: () => {
        peaks = rss?.stop();
      },
    },
  );
  if (groups.length > 0) await new Promise((r) => setTimeout(r, SETTLE_MS));
  const cpu = cpuDelta(before, cpuSnapshot(groups));
  const cpuPerRequest = new Map([...cpu].map(([name, ms]) => [name, ms / Math.max(1, result.count)]));
  measurements.push({ system: sys.id, cell, result, cpuPerRequest, ...(peaks ? { rss: peaks } : {}) });
  if (result.errors > 0) {
    failures++;
    say(`  ${sys.id}: ${result.errors} errors, e.g. ${result.errorSamples.join(' | ')}`);
  }
  say(`${cellName(cell).padEnd(20)} ${sys.id.padEnd(20)} ${summary(result)}`);
}

async function tryStart(
  id: string,
  label: string,
  start: () => Promise<SystemUnderTest>,
): Promise<SystemUnderTest | undefined> {
  if (!wanted.has(id)) return undefined;
  try {
    say(`starting ${label}…`);
    const sys = await start();
    systems.push({ id: sys.id, label: sys.label });
    return sys;
  } catch (err) {
    const reason = err instanceof Error ? err.message : String(err);
    say(`${label} did not start: ${reason}`);
    systems.push({ id, label, unavailable: `n/a (did not start: ${reason.split('\n')[0]})` });
    notes.push(`${label} did not start: ${reason.split('\n').slice(0, 6).join(' / ')}`);
    return undefined;
  }
}

/** CPU the systems use with no traffic, over one shared window, into their SystemInfo. */
async function measureIdle(suts: readonly SystemUnderTest[], ms = 2_000): Promise<void> {
  const groups = suts.flatMap((sys) => sys.processes.map((g) => ({ ...g, name: `${sys.id}\0${g.name}` })));
  const before = cpuSnapshot(groups);
  await new Promise((r) => setTimeout(r, ms));
  const delta = cpuDelta(before, cpuSnapshot(groups));
  for (const sys of suts) {
    const info = systems.find((s) => s.id === sys.id);
    if (!info || sys.processes.length === 0) continue;
    const total = [...delta]
      .filter(([name]) => name.startsWith(`${sys.id}\0`))
      .reduce((a, [, v]) => a + v, 0);
    info.idleCpuMsPerSecond = (total * 1000) / ms;
  }
}

async function rateLimitCell(spec: RequestSpec): Promise<CellResult> {
  return runCell(spec, {
    concurrency: RATE_LIMIT_CONCURRENCY,
    maxRequests: maxRequests(RATE_LIMIT_CONCURRENCY),
    measureMs,
    warmupMs,
    timeoutMs: 60_000,
  });
}

/** The mean of two runs of a cell (throughput and percentiles averaged, counts and errors added). */
function mean(a: CellResult, b: CellResult): CellResult {
  const avg = (x: number, y: number) => (x + y) / 2;
  return {
    ...b,
    count: a.count + b.count,
    errors: a.errors + b.errors,
    errorSamples: [...a.errorSamples, ...b.errorSamples].slice(0, 5),
    seconds: a.seconds + b.seconds,
    throughput: avg(a.throughput, b.throughput),
    p50: avg(a.p50, b.p50),
    p95: avg(a.p95, b.p95),
    p99: avg(a.p99, b.p99),
  };
}

const running: SystemUnderTest[] = [];
try {
  // Phase 1: the upstream, both peers and Promptmill (workflow mode) on one mock, cell by cell.
  let workflow: PromptmillSystem | undefined;
  const needStack =
    wanted.has('promptmill-workflow') || ['direct', 'portkey', 'litellm'].some((s) => wanted.has(s));
  if (needStack) {
    say(
      'starting Promptmill, workflow mode (embedded Postgres, Temporal dev server, worker, api, mock provider)…',
    );
    workflow = await startPromptmill({ mode: 'workflow', limitsOffApi: wanted.has('promptmill-workflow') });
    running.push(workflow);
  }
  const mockUrl = workflow?.mockUrl ?? '';
  const phase1: SystemUnderTest[] = [];
  if (wanted.has('direct')) {
    const direct = directUpstream(mockUrl);
    systems.push({ id: direct.id, label: direct.label });
    phase1.push(direct);
  }
  for (const [id, label, start] of [
    ['portkey', `Portkey gateway ${portkeyInstalled() ?? '(not installed)'}`, () => startPortkey(mockUrl)],
    ['litellm', `LiteLLM proxy ${liteLlmInstalled() ?? '(not installed)'}`, () => startLiteLlm(mockUrl)],
  ] as const) {
    const sys = await tryStart(id, label, start);
    if (sys) {
      running.push(sys);
      phase1.push(sys);
    }
  }
  if (workflow && wanted.has('promptmill-workflow')) {
    systems.push({ id: workflow.id, label: workflow.label });
    phase1.push(workflow);
  }
  const eager = await tryStart(EAGER_VARIANT.id, EAGER_VARIANT.label, () =>
    startPromptmill({ mode: 'workflow', variant: EAGER_VARIANT }),
  );
  if (eager) {
    running.push(eager);
    phase1.push(eager);
  }

  await measureIdle(phase1);
  for (const cell of cells) {
    for (const sys of phase1) await measure(sys, cell);
  }

  if (workflow && wanted.has('promptmill-workflow')) {
    const { on, off } = workflow.rateLimitedRead;
    if (off) {
      // interleaved off / on / off / on; the mean of the two runs of each side is reported
      const offRuns: CellResult[] = [];
      const onRuns: CellResult[] = [];
      for (let round = 0; round < 2; round++) {
        offRuns.push(await rateLimitCell(off));
        onRuns.push(await rateLimitCell(on));
      }
      rateLimitedRead = {
        concurrency: RATE_LIMIT_CONCURRENCY,
        on: mean(onRuns[0]!, onRuns[1]!),
        off: mean(offRuns[0]!, offRuns[1]!),
      };
      say(
        `rate-limited read: limits on ${summary(rateLimitedRead.on)}; off ${summary(rateLimitedRead.off!)}`,
      );
      if (rateLimitedRead.on.errors + (rateLimitedRead.off?.errors ?? 0) > 0) failures++;
    }
  }
  for (const sys of running.splice(0).reverse()) await sys.stop();

  // Phase 2: Promptmill's direct sync-run mode, on its own stack, when the api has it.
  if (wanted.has('promptmill-direct')) {
    const label = 'Promptmill, direct mode';
    const support = syncRunModeSupport('direct');
    if (!support.supported) {
      say(`${label}: ${support.reason}: n/a (not built yet)`);
      systems.push({ id: 'promptmill-direct', label, unavailable: 'n/a (not built yet)' });
      notes.push(`${label} not measured: ${support.reason}.`);
    } else {
      const direct = await tryStart('promptmill-direct', label, () => startPromptmill({ mode: 'direct' }));
      if (direct) {
        running.push(direct);
        await measureIdle([direct]);
        for (const cell of cells) await measure(direct, cell);
        notes.push(
          `${label} ran on a second stack after the others (its own mock provider, same code): its "added" figures compare with the direct upstream measured earlier in the run.`,
        );
      }
    }
  }
} finally {
  for (const sys of running.splice(0).reverse())
    await sys.stop().catch((e: unknown) => say(`stop: ${String(e)}`));
}

const cpu = os.cpus();
const loadAfter = os.loadavg();
const report = renderReport({
  startedAt,
  durationSeconds: (performance.now() - t0) / 1000,
  machine: `Machine: ${cpu.length} × ${cpu[0]?.model ?? 'cpu'}, ${(os.totalmem() / 2 ** 30).toFixed(0)} GiB, ${os.type()} ${os.release()}, Node ${process.version}; load average (1 min) ${loadBefore[0]!.toFixed(2)} at start, ${loadAfter[0]!.toFixed(2)} at the end.`,
  settings: `Per cell: warm-up ≥ ${warmupMs / 1000} s on the cell's own keep-alive connections (at least one request per client), then a measured phase of ≤ ${measureMs / 1000} s and ≤ ${maxRequests(1)} requests at c=1 / ≤ ${maxRequests(32)} above; closed loop (each client sends its next request when the previous one is answered). CPU of a system: its processes' user + system time from the start of the measured phase to ${SETTLE_MS / 1000} s after its last answer (work done after answering counts), divided by the measured requests. Request: one user message to model mock-1 on the project's mock provider (echo; 200 ms cells ask it for a delay in band, \`[[mock:delay=200]]\`).`,
  systems,
  cells,
  measurements,
  ...(rateLimitedRead ? { rateLimitedRead } : {}),
  notes,
});
process.stdout.write(`\n${report}\n`);
const day = startedAt.toISOString().slice(0, 10);
const out = env.BENCH_RESULTS ?? fileURLToPath(new URL(`../results/compare-${day}.md`, import.meta.url));
mkdirSync(fileURLToPath(new URL('../results/', import.meta.url)), { recursive: true });
writeFileSync(out, report);
say(`report written to ${out} (${((performance.now() - t0) / 60_000).toFixed(1)} min)`);
if (failures > 0) {
  say(`${failures} cell(s) had errors: see the Errors section`);
  process.exitCode = 1;
}
