// Builds the production workflow bundle: `npm run build -w @promptmill/workers` → dist/workflow-bundle.js
import { mkdirSync, writeFileSync } from 'node:fs';
import { bundleWorkflowCode } from '@temporalio/worker';
import { WORKFLOWS_PATH } from './worker.ts';

const out = new URL('../dist/workflow-bundle.js', import.meta.url);
mkdirSync(new URL('../dist/', import.meta.url), { recursive: true });
const { code } = await bundleWorkflowCode({ workflowsPath: WORKFLOWS_PATH });
writeFileSync(out, code);
console.log(`workflow bundle: ${out.pathname} (${(code.length / 1024).toFixed(0)} KiB)`);
