// `npm run bench`: every benchmark in bench/, one after the other (each prints its own figures).
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const benches = ['render.bench.ts', 'rate-limit.bench.ts', 'runs.bench.ts'];
let failed = 0;
for (const file of benches) {
  const path = fileURLToPath(new URL(file, import.meta.url));
  if (!existsSync(path)) continue;
  console.log(`\n=== ${file} ===`);
  const r = spawnSync(process.execPath, ['--import', 'tsx', path], { stdio: 'inherit', env: process.env });
  if (r.status !== 0) failed++;
}
process.exit(failed === 0 ? 0 : 1);
