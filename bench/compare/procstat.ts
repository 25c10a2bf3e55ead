/**
 * CPU time and memory of the processes of a system under test, read from /proc (Linux only).
 *
 * A system is a list of named process groups, each the subtree under one root pid (the Postgres
 * postmaster and all its backends, a uvicorn master and its workers, …). CPU of a group =
 * utime + stime + cutime + cstime summed over the subtree: a live process counts its own time, and
 * a child that has exited counts in its parent's cutime/cstime once reaped, so short-lived backends
 * are not lost and nothing is counted twice.
 */
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';

export interface ProcessGroup {
  /** e.g. "api", "postgres (all backends)" */
  name: string;
  /** root of the group's process subtree */
  pid: number;
}

interface ProcStat {
  pid: number;
  ppid: number;
  /** utime + stime + cutime + cstime, in clock ticks */
  ticks: number;
}

const CLOCK_TICKS_PER_SECOND = (() => {
  try {
    const n = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim());
    return Number.isFinite(n) && n > 0 ? n : 100;
  } catch {
    return 100;
  }
})();

function readStat(pid: number): ProcStat | undefined {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined; // gone
  }
  // the command name (field 2) is in parentheses and may contain spaces: split after the last ')'
  const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
  // fields[0] is field 3 (state): ppid is field 4, utime..cstime are fields 14..17
  const num = (field: number) => Number(fields[field - 3] ?? 0);
  return { pid, ppid: num(4), ticks: num(14) + num(15) + num(16) + num(17) };
}

function allStats(): ProcStat[] {
  const stats: ProcStat[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const s = readStat(Number(entry));
    if (s) stats.push(s);
  }
  return stats;
}

function childrenIndex(stats: readonly ProcStat[]): Map<number, ProcStat[]> {
  const byParent = new Map<number, ProcStat[]>();
  for (const s of stats) {
    const list = byParent.get(s.ppid);
    if (list) list.push(s);
    else byParent.set(s.ppid, [s]);
  }
  return byParent;
}

function subtree(root: ProcStat, byParent: Map<number, ProcStat[]>): ProcStat[] {
  const out: ProcStat[] = [];
  const todo = [root];
  for (let s = todo.pop(); s; s = todo.pop()) {
    out.push(s);
    todo.push(...(byParent.get(s.pid) ?? []));
  }
  return out;
}

/** The command line of a process as its arguments ([] when it is gone). */
export function commandLine(pid: number): string[] {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8')
      .split('\0')
      .filter((a) => a.length > 0);
  } catch {
    return [];
  }
}

/** Every descendant of `root` (children, grandchildren, …) with its command line. */
export function descendants(root: number = process.pid): { pid: number; ppid: number; argv: string[] }[] {
  const stats = allStats();
  const self = stats.find((s) => s.pid === root);
  if (!self) return [];
  return subtree(self, childrenIndex(stats))
    .filter((s) => s.pid !== root)
    .map((s) => ({ pid: s.pid, ppid: s.ppid, argv: commandLine(s.pid) }));
}

/** CPU milliseconds used so far by each group (subtree sums); a group whose root is gone reads NaN. */
export function cpuSnapshot(groups: readonly ProcessGroup[]): Map<string, number> {
  const snapshot = new Map<string, number>();
  if (groups.length === 0) return snapshot;
  const stats = allStats();
  const byPid = new Map(stats.map((s) => [s.pid, s]));
  const byParent = childrenIndex(stats);
  for (const g of groups) {
    const root = byPid.get(g.pid);
    const ticks = root ? subtree(root, byParent).reduce((sum, s) => sum + s.ticks, 0) : Number.NaN;
    snapshot.set(g.name, (ticks * 1000) / CLOCK_TICKS_PER_SECOND);
  }
  return snapshot;
}

/** after − before, per group, in CPU milliseconds. */
export function cpuDelta(before: Map<string, number>, after: Map<string, number>): Map<string, number> {
  const delta = new Map<string, number>();
  for (const [name, end] of after) delta.set(name, end - (before.get(name) ?? Number.NaN));
  return delta;
}

export interface RssPeak {
  /** VmRSS of the group's root process, largest sample, KiB */
  rootKiB: number;
  /** Σ VmRSS over the subtree, largest sample, KiB (shared pages count once per process) */
  treeKiB: number;
  /** processes in the subtree at that sample */
  processes: number;
}

function vmRssKiB(pid: number): number {
  try {
    const m = /^VmRSS:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m?.[1] ? Number(m[1]) : 0;
  } catch {
    return 0;
  }
}

/**
 * Samples VmRSS of every group every `intervalMs` until stop(); returns the peak per group. The
 * process trees are re-read once a second (a pool may open backends mid-cell), the RSS every sample.
 */
export function sampleRss(
  groups: readonly ProcessGroup[],
  intervalMs = 250,
): { stop(): Map<string, RssPeak> } {
  const peaks = new Map<string, RssPeak>();
  let trees = new Map<string, number[]>();
  let treesReadAt = Number.NEGATIVE_INFINITY;
  const readTrees = () => {
    const stats = allStats();
    const byPid = new Map(stats.map((s) => [s.pid, s]));
    const byParent = childrenIndex(stats);
    trees = new Map();
    for (const g of groups) {
      const root = byPid.get(g.pid);
      if (root)
        trees.set(
          g.name,
          subtree(root, byParent).map((s) => s.pid),
        );
    }
    treesReadAt = performance.now();
  };
  const sample = () => {
    if (performance.now() - treesReadAt >= 1000) readTrees();
    for (const g of groups) {
      const tree = trees.get(g.name);
      if (!tree) continue;
      const rootKiB = vmRssKiB(g.pid);
      const treeKiB = tree.reduce((sum, pid) => sum + (pid === g.pid ? rootKiB : vmRssKiB(pid)), 0);
      const prev = peaks.get(g.name);
      peaks.set(g.name, {
        rootKiB: Math.max(prev?.rootKiB ?? 0, rootKiB),
        treeKiB: Math.max(prev?.treeKiB ?? 0, treeKiB),
        processes: Math.max(prev?.processes ?? 0, tree.length),
      });
    }
  };
  if (groups.length > 0) sample();
  const timer = groups.length > 0 ? setInterval(sample, intervalMs) : undefined;
  return {
    stop: () => {
      if (timer) {
        clearInterval(timer);
        sample();
      }
      return peaks;
    },
  };
}
