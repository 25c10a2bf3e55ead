// Builds the production workflow bundle: `npm run build -w @promptmill/workers` → dist/workflow-bundle.js,
// or `node workers/src/build-bundle.ts <out file>` (the local stack builds one per workflow source).
import { mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { bundleWorkflowCode } from '@temporalio/worker';
import { WORKFLOWS_PATH } from './worker.ts';

const out = process.argv[2]
  ? resolve(process.argv[2])
  : fileURLToPath(new URL('../dist/workflow-bundle.js', import.meta.url));
mkdirSync(dirname(out), { recursive: true });
const { code } = await bundleWorkflowCode({ workflowsPath: WORKFLOWS_PATH });
// written whole, then renamed: a reader never sees half a bundle
const partial = `${out}.${process.pid}.tmp`;
writeFileSync(partial, code);
renameSync(partial, out);
console.log(`workflow bundle: ${out} (${(code.length / 1024).toFixed(0)} KiB)`);
