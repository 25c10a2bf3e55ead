/**
 * The top entries of a V8 CPU profile (`node --cpu-prof`): self time per function and per package.
 *
 *   npx tsx bench/cpuprofile-top.ts <file.cpuprofile> [top=25]
 */
import { readFileSync } from 'node:fs';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}

interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

/** `node_modules/<pkg>` (scoped too), the repo's own package folder, or `node:` internals. */
export function packageOf(url: string): string {
  const nm = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (nm?.[1]) return nm[1];
  const own = /\/(api|workers|workflows|infra)\/src\//.exec(url);
  if (own?.[1]) return `promptmill/${own[1]}`;
  if (url.startsWith('node:') || url === '') return '(node internals / native)';
  return url;
}

export function summarize(profile: Profile, top = 25): string {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const selfUs = new Map<number, number>();
  for (const [i, id] of profile.samples.entries()) {
    selfUs.set(id, (selfUs.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0));
  }
  let total = 0;
  let idle = 0;
  const byFunction = new Map<string, number>();
  const byPackage = new Map<string, number>();
  for (const [id, us] of selfUs) {
    const node = byId.get(id);
    if (!node) continue;
    const { functionName, url, lineNumber } = node.callFrame;
    total += us;
    if (functionName === '(idle)' || functionName === '(program)') {
      if (functionName === '(idle)') idle += us;
      if (functionName === '(idle)') continue;
    }
    const short = url
      .replace(/^.*node_modules\//, '')
      .replace(/^file:\/\/.*?\/(api|workers|workflows|infra)\//, '$1/');
    const fn = `${functionName || '(anonymous)'}  ${short}:${lineNumber + 1}`;
    byFunction.set(fn, (byFunction.get(fn) ?? 0) + us);
    const pkg = functionName === '(garbage collector)' ? '(garbage collector)' : packageOf(url);
    byPackage.set(pkg, (byPackage.get(pkg) ?? 0) + us);
  }
  const busy = total - idle;
  const pct = (us: number) => `${((100 * us) / busy).toFixed(1).padStart(5)} %`;
  const ms = (us: number) => `${(us / 1000).toFixed(0).padStart(7)} ms`;
  const lines = [
    `busy ${ms(busy)} of ${ms(total)} sampled (idle excluded from the percentages)`,
    '',
    'self time by package:',
  ];
  for (const [k, v] of [...byPackage].sort((a, b) => b[1] - a[1]).slice(0, top)) {
    lines.push(`${ms(v)} ${pct(v)}  ${k}`);
  }
  lines.push('', 'self time by function:');
  for (const [k, v] of [...byFunction].sort((a, b) => b[1] - a[1]).slice(0, top)) {
    lines.push(`${ms(v)} ${pct(v)}  ${k}`);
  }
  return lines.join('\n');
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const file = process.argv[2];
  if (!file) {
    console.error('usage: npx tsx bench/cpuprofile-top.ts <file.cpuprofile> [top]');
    process.exit(2);
  }
  const profile = JSON.parse(readFileSync(file, 'utf8')) as Profile;
  console.log(summarize(profile, Number(process.argv[3] ?? 25)));
}
