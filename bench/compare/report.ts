/**
 * The comparison report: markdown tables (printed and written to bench/results/) with the figures,
 * the ratios of Promptmill to the upstream called directly, Portkey and LiteLLM, and the issue's
 * targets marked met / not met.
 */
import type { CellResult } from './loadgen.ts';
import type { RssPeak } from './procstat.ts';

export type CellKind = 'sync' | 'stream';

export interface Cell {
  kind: CellKind;
  concurrency: number;
  delayMs: number;
}

export interface Measurement {
  system: string;
  cell: Cell;
  result: CellResult;
  /** CPU milliseconds per measured request, per process group of the system */
  cpuPerRequest: Map<string, number>;
  /** peak RSS per process group (only sampled in the c=32, 0 ms sync cell) */
  rss?: Map<string, RssPeak>;
}

export interface SystemInfo {
  id: string;
  label: string;
  /** why it was not measured, e.g. "n/a (not built yet)" */
  unavailable?: string;
  /** CPU its processes use with no traffic, ms per second (counted in every cell's CPU figure) */
  idleCpuMsPerSecond?: number;
}

export interface RateLimitedRead {
  concurrency: number;
  on: CellResult;
  off?: CellResult;
}

export interface ReportData {
  startedAt: Date;
  durationSeconds: number;
  machine: string;
  settings: string;
  systems: SystemInfo[];
  cells: Cell[];
  measurements: Measurement[];
  rateLimitedRead?: RateLimitedRead;
  notes: string[];
}

const WORKFLOW = 'promptmill-workflow';
const DIRECT_MODE = 'promptmill-direct';
const PROMPTMILL = [WORKFLOW, DIRECT_MODE];
/** today's sync-run throughput at c=32 (issue "Performance"): ≈ 30–35 req/s */
const TODAY_C32 = 35;

const f = (n: number | undefined, digits = 1): string =>
  n === undefined || !Number.isFinite(n) ? 'n/a' : n.toFixed(digits);
const signed = (n: number | undefined, digits = 1): string =>
  n === undefined || !Number.isFinite(n) ? 'n/a' : `${n >= 0 ? '+' : ''}${n.toFixed(digits)}`;
const ratio = (a: number | undefined, b: number | undefined): string =>
  a === undefined || b === undefined || !Number.isFinite(a) || !Number.isFinite(b) || b === 0
    ? 'n/a'
    : `${(a / b).toFixed(2)}×`;
const mib = (kib: number | undefined) => (kib === undefined ? undefined : kib / 1024);
const sum = (m: Map<string, number>) => [...m.values()].reduce((a, b) => a + b, 0);

function table(header: string[], rows: string[][]): string {
  const line = (cells: string[]) => `| ${cells.join(' | ')} |`;
  return [line(header), line(header.map(() => '---')), ...rows.map(line)].join('\n');
}

export function cellName(c: Cell): string {
  return `${c.kind === 'stream' ? 'stream' : 'sync'} c=${c.concurrency} ${c.delayMs} ms`;
}

function sameCell(a: Cell, b: Cell): boolean {
  return a.kind === b.kind && a.concurrency === b.concurrency && a.delayMs === b.delayMs;
}

class Lookup {
  readonly data: ReportData;
  constructor(data: ReportData) {
    this.data = data;
  }

  get(system: string, cell: Cell): Measurement | undefined {
    return this.data.measurements.find((m) => m.system === system && sameCell(m.cell, cell));
  }

  label(system: string): string {
    const s = this.data.systems.find((x) => x.id === system);
    return s ? s.label : system;
  }
}

function systemRows(
  data: ReportData,
  cell: Cell,
  row: (m: Measurement | undefined, s: SystemInfo) => string[],
) {
  const at = new Lookup(data);
  return data.systems.map((s) => row(s.unavailable ? undefined : at.get(s.id, cell), s));
}

function syncSection(data: ReportData): string {
  const at = new Lookup(data);
  const parts: string[] = [];
  for (const cell of data.cells.filter((c) => c.kind === 'sync')) {
    const direct = at.get('direct', cell)?.result;
    const rows = systemRows(data, cell, (m, s) => {
      if (!m) return [s.label, s.unavailable ?? 'n/a', '', '', '', '', '', ''];
      const r = m.result;
      return [
        s.label,
        f(r.throughput),
        f(r.p50, 2),
        f(r.p95, 2),
        f(r.p99, 2),
        s.id === 'direct' ? '—' : signed(direct ? r.p50 - direct.p50 : undefined, 2),
        s.id === 'direct' ? '—' : f(sum(m.cpuPerRequest), 2),
        r.errors === 0 ? `0 / ${r.count}` : `**${r.errors}** / ${r.count}`,
      ];
    });
    parts.push(
      `#### ${cellName(cell)} (c = ${cell.concurrency} clients, upstream delay ${cell.delayMs} ms)\n\n${table(
        [
          'system',
          'req/s',
          'p50 ms',
          'p95 ms',
          'p99 ms',
          'added p50 vs direct',
          'CPU ms/req (its processes)',
          'errors / requests',
        ],
        rows,
      )}`,
    );
  }
  return parts.join('\n\n');
}

function ratioSection(data: ReportData): string {
  const at = new Lookup(data);
  const rows: string[][] = [];
  for (const pm of PROMPTMILL) {
    if (data.systems.find((s) => s.id === pm)?.unavailable) continue;
    for (const cell of data.cells) {
      const mine = at.get(pm, cell)?.result.throughput;
      if (mine === undefined) continue;
      rows.push([
        at.label(pm),
        cellName(cell),
        ratio(mine, at.get('direct', cell)?.result.throughput),
        ratio(mine, at.get('portkey', cell)?.result.throughput),
        ratio(mine, at.get('litellm', cell)?.result.throughput),
      ]);
    }
  }
  return table(['Promptmill', 'cell', 'vs direct', 'vs Portkey', 'vs LiteLLM'], rows);
}

function streamSection(data: ReportData): string {
  const at = new Lookup(data);
  const parts: string[] = [];
  for (const cell of data.cells.filter((c) => c.kind === 'stream')) {
    const direct = at.get('direct', cell)?.result;
    const rows = systemRows(data, cell, (m, s) => {
      if (!m) return [s.label, s.unavailable ?? 'n/a', '', '', '', '', '', ''];
      const r = m.result;
      const fc = r.firstContent;
      const isDirect = s.id === 'direct';
      return [
        s.label,
        f(r.throughput),
        `${f(fc?.p50, 2)} / ${f(fc?.p95, 2)}`,
        `${f(r.p50, 2)} / ${f(r.p95, 2)}`,
        isDirect ? '—' : signed(fc && direct?.firstContent ? fc.p50 - direct.firstContent.p50 : undefined, 2),
        isDirect ? '—' : signed(direct ? r.p50 - direct.p50 : undefined, 2),
        isDirect ? '—' : f(sum(m.cpuPerRequest), 2),
        r.errors === 0 ? `0 / ${r.count}` : `**${r.errors}** / ${r.count}`,
      ];
    });
    parts.push(
      `#### ${cellName(cell)}\n\n${table(
        [
          'system',
          'streams/s',
          'first content p50 / p95 ms',
          'end p50 / p95 ms',
          'added first content p50',
          'added end p50',
          'CPU ms/stream',
          'errors / streams',
        ],
        rows,
      )}`,
    );
  }
  return parts.join('\n\n');
}

function cpuSection(data: ReportData, cell: Cell): string {
  const at = new Lookup(data);
  const rows: string[][] = [];
  for (const s of data.systems) {
    const m = s.unavailable ? undefined : at.get(s.id, cell);
    if (!m || m.cpuPerRequest.size === 0) continue;
    for (const [name, ms] of m.cpuPerRequest) rows.push([s.label, name, f(ms, 3)]);
    rows.push([s.label, '**all its processes**', `**${f(sum(m.cpuPerRequest), 3)}**`]);
  }
  return table(['system', 'process', 'CPU ms per request'], rows);
}

function rssSection(data: ReportData, cell: Cell): string {
  const at = new Lookup(data);
  const rows: string[][] = [];
  for (const s of data.systems) {
    const m = s.unavailable ? undefined : at.get(s.id, cell);
    if (!m?.rss) continue;
    for (const [name, peak] of m.rss) {
      rows.push([
        s.label,
        name,
        f(mib(peak.rootKiB)),
        peak.processes > 1 ? `${f(mib(peak.treeKiB))} (${peak.processes} processes)` : '—',
      ]);
    }
  }
  return table(['system', 'process', 'max RSS MiB', 'Σ RSS of its process tree MiB'], rows);
}

function rateLimitSection(rl: RateLimitedRead | undefined): string {
  if (!rl) return 'not measured';
  const row = (label: string, r: CellResult | undefined) =>
    r
      ? [
          label,
          f(r.throughput, 0),
          f(r.p50, 2),
          f(r.p99, 2),
          r.errors === 0 ? `0 / ${r.count}` : `**${r.errors}** / ${r.count}`,
        ]
      : [label, 'n/a', '', '', ''];
  return `${table(
    [
      `GET /v1/prompts, one api process, c=${String(rl.concurrency)}`,
      'req/s',
      'p50 ms',
      'p99 ms',
      'errors / requests',
    ],
    [row('limits on (org and key windows, never refusing)', rl.on), row('RATE_LIMITS_ENABLED=false', rl.off)],
  )}\n\nlimits on ÷ limits off: ${ratio(rl.on.throughput, rl.off?.throughput)}`;
}

interface Target {
  mode: string;
  what: string;
  measured: string;
  met: boolean | undefined;
}

function targets(data: ReportData): Target[] {
  const at = new Lookup(data);
  const sync = (concurrency: number, delayMs = 0): Cell => ({ kind: 'sync', concurrency, delayMs });
  const stream1: Cell = { kind: 'stream', concurrency: 1, delayMs: 0 };
  const tput = (sys: string, cell: Cell) => at.get(sys, cell)?.result.throughput;
  const addedP50 = (sys: string, cell: Cell) => {
    const a = at.get(sys, cell)?.result.p50;
    const d = at.get('direct', cell)?.result.p50;
    return a === undefined || d === undefined ? undefined : a - d;
  };
  const addedFirst = (sys: string) => {
    const a = at.get(sys, stream1)?.result.firstContent?.p50;
    const d = at.get('direct', stream1)?.result.firstContent?.p50;
    return a === undefined || d === undefined ? undefined : a - d;
  };
  const check = (value: number | undefined, ok: (v: number) => boolean) =>
    value === undefined || !Number.isFinite(value) ? undefined : ok(value);
  const out: Target[] = [];
  const add = (
    mode: string,
    what: string,
    value: number | undefined,
    shown: string,
    ok: (v: number) => boolean,
  ) =>
    out.push({
      mode,
      what,
      measured: value === undefined || !Number.isFinite(value) ? 'n/a' : shown,
      met: check(value, ok),
    });

  for (const pm of PROMPTMILL) {
    const info = data.systems.find((s) => s.id === pm);
    if (!info || info.unavailable) {
      out.push({
        mode: pm === WORKFLOW ? 'workflow' : 'direct',
        what: 'every target of this mode',
        measured: info?.unavailable ?? 'n/a',
        met: undefined,
      });
      continue;
    }
    const mode = pm === WORKFLOW ? 'workflow' : 'direct';
    const c32 = sync(32);
    if (pm === WORKFLOW) {
      const added = addedP50(pm, sync(1));
      add(mode, 'sync added p50 ≤ 15 ms at c=1', added, `${signed(added, 2)} ms`, (v) => v <= 15);
      const m = at.get(pm, c32);
      const cpu = m ? sum(m.cpuPerRequest) : undefined;
      add(mode, 'CPU per run ≤ 15 ms, all processes (c=32, 0 ms)', cpu, `${f(cpu, 2)} ms`, (v) => v <= 15);
      const t = tput(pm, c32);
      add(
        mode,
        `throughput c=32 ≥ 2× today's (≥ ${2 * TODAY_C32} req/s)`,
        t,
        `${f(t)} req/s`,
        (v) => v >= 2 * TODAY_C32,
      );
      const lite = tput('litellm', c32);
      add(
        mode,
        "throughput c=32 ≥ LiteLLM's",
        t === undefined || lite === undefined ? undefined : t / lite,
        `${f(t)} vs ${f(lite)} req/s`,
        (v) => v >= 1,
      );
      const first = addedFirst(pm);
      add(mode, 'streaming first content ≤ +15 ms (c=1)', first, `${signed(first, 2)} ms`, (v) => v <= 15);
      const end = addedP50(pm, stream1);
      add(mode, 'streaming end ≤ +10 ms (c=1)', end, `${signed(end, 2)} ms`, (v) => v <= 10);
    } else {
      const added = addedP50(pm, sync(1));
      add(mode, 'sync added p50 ≤ 3 ms at c=1', added, `${signed(added, 2)} ms`, (v) => v <= 3);
      const t = tput(pm, c32);
      const pk = tput('portkey', c32);
      add(
        mode,
        "throughput c=32 ≥ Portkey's",
        t === undefined || pk === undefined ? undefined : t / pk,
        `${f(t)} vs ${f(pk)} req/s`,
        (v) => v >= 1,
      );
      const slow = sync(128, 200);
      const mine = tput(pm, slow);
      const direct = tput('direct', slow);
      add(
        mode,
        '200 ms upstream, c=128: ≥ 0.9 of direct',
        mine === undefined || direct === undefined ? undefined : mine / direct,
        `${ratio(mine, direct)} (${f(mine)} vs ${f(direct)} req/s)`,
        (v) => v >= 0.9,
      );
      const first = addedFirst(pm);
      add(mode, 'streaming first content ≤ +5 ms (c=1)', first, `${signed(first, 2)} ms`, (v) => v <= 5);
    }
    const rss = at.get(pm, c32)?.rss;
    const api = mib(rss?.get('api')?.rootKiB);
    const worker = mib(rss?.get('worker')?.rootKiB);
    add(mode, 'api RSS ≤ 150 MiB (c=32 cell)', api, `${f(api)} MiB`, (v) => v <= 150);
    add(mode, 'worker RSS ≤ 250 MiB (c=32 cell)', worker, `${f(worker)} MiB`, (v) => v <= 250);
  }
  const rl = data.rateLimitedRead;
  add(
    'both',
    'rate-limited read ≥ 3,000 req/s (c=32)',
    rl?.on.throughput,
    `${f(rl?.on.throughput, 0)} req/s`,
    (v) => v >= 3000,
  );
  const rlRatio = rl?.off ? rl.on.throughput / rl.off.throughput : undefined;
  add(
    'both',
    'rate-limited read within 15 % of limits off',
    rlRatio,
    ratio(rl?.on.throughput, rl?.off?.throughput),
    (v) => v >= 0.85,
  );
  return out;
}

function errorSection(data: ReportData): string {
  const lines: string[] = [];
  const all = [
    ...data.measurements.map((m) => ({ name: `${m.system} ${cellName(m.cell)}`, r: m.result })),
    ...(data.rateLimitedRead
      ? [
          { name: 'rate-limited read, limits on', r: data.rateLimitedRead.on },
          ...(data.rateLimitedRead.off
            ? [{ name: 'rate-limited read, limits off', r: data.rateLimitedRead.off }]
            : []),
        ]
      : []),
  ];
  for (const { name, r } of all) {
    if (r.errors === 0) continue;
    lines.push(`- ${name}: ${r.errors} of ${r.count} failed, e.g.`);
    for (const e of r.errorSamples)
      lines.push(`  - \`${e.replace(/`/g, "'").replace(/\s+/g, ' ').slice(0, 300)}\``);
  }
  return lines.length === 0 ? 'none: every measured request succeeded' : lines.join('\n');
}

export function renderReport(data: ReportData): string {
  const c32: Cell = { kind: 'sync', concurrency: 32, delayMs: 0 };
  const targetRows = targets(data).map((t) => [
    t.mode,
    t.what,
    t.measured,
    t.met === undefined ? 'n/a' : t.met ? 'met' : '**not met**',
  ]);
  return [
    `# Promptmill vs the upstream called directly, Portkey and LiteLLM — ${data.startedAt.toISOString()}`,
    '',
    `Produced by \`npm run bench:compare\` in ${f(data.durationSeconds / 60)} minutes. ${data.machine}`,
    '',
    data.settings,
    '',
    '## Systems',
    '',
    table(
      ['id', 'system', 'idle CPU, ms per s (its processes, no traffic)'],
      data.systems.map((s) => [
        s.id,
        s.unavailable ? `${s.label}: ${s.unavailable}` : s.label,
        s.id === 'direct' ? '—' : f(s.idleCpuMsPerSecond),
      ]),
    ),
    '',
    ...(data.notes.length > 0 ? ['Notes:', '', ...data.notes.map((n) => `- ${n}`), ''] : []),
    '## Targets (issue "Performance")',
    '',
    table(['mode', 'target', 'measured', ''], targetRows),
    '',
    '## Sync (non-streaming) requests',
    '',
    'Latency is per request, client side, closed loop; "added" = p50 − p50 of the upstream called directly in the same cell. CPU = user + system time of the system\'s own processes (not the bench process, which runs the load generator and the mock) over the measured phase, divided by its requests.',
    '',
    syncSection(data),
    '',
    "### Throughput ratios (Promptmill req/s ÷ the other system's, same cell)",
    '',
    ratioSection(data),
    '',
    '## Streaming',
    '',
    'First content = time to the first non-empty content delta (Promptmill: first `event: delta`); end = the whole response, after `[DONE]` / `event: done`.',
    '',
    streamSection(data),
    '',
    `## CPU per request per process (${cellName(c32)})`,
    '',
    cpuSection(data, c32),
    '',
    `## Memory under load (${cellName(c32)}, VmRSS sampled every 250 ms, maximum)`,
    '',
    rssSection(data, c32),
    '',
    '## Rate-limited authenticated read',
    '',
    rateLimitSection(data.rateLimitedRead),
    '',
    '## Errors',
    '',
    errorSection(data),
    '',
  ].join('\n');
}
