import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { freePort } from './ports.ts';
import { type LocalPostgres, startEmbeddedPostgres } from './postgres.ts';
import { type ServiceProcess, startService } from './processes.ts';
import { type LocalTemporal, REPO_ROOT, startTemporalDevServer, stopChild } from './temporal.ts';
import { prebuiltWorkflowBundle } from './workflow-bundle.ts';

export interface StackOptions {
  /** where embedded Postgres and the Temporal sqlite file live */
  dataDir: string;
  /** 0 = any free port for every service */
  apiPort?: number;
  temporalPort?: number;
  temporalUiPort?: number;
  postgresPort?: number;
  workerMetricsPort?: number;
  /** no Temporal UI (tests) */
  headless?: boolean;
  /** keep Temporal's state in memory instead of dataDir/temporal.db (throwaway stacks) */
  temporalInMemory?: boolean;
  /** OpenAI-compatible base URL for the worker; unset → OPENAI_BASE_URL/OPENAI_API_KEY from env */
  providerBaseUrl?: string;
  adminToken: string;
  /** extra env for the api and worker processes */
  env?: NodeJS.ProcessEnv;
  apiProcesses?: number;
  log?: (line: string) => void;
}

export interface Stack {
  apiUrl: string;
  /** every api process (apiProcesses > 1 puts several behind different ports) */
  apiUrls: string[];
  temporalAddress: string;
  temporalUiUrl: string | null;
  databaseUrl: string;
  workerMetricsUrl: string;
  adminToken: string;
  /** kill the worker (SIGKILL: a crash) and start a new one */
  restartWorker(opts?: { crash?: boolean }): Promise<void>;
  stopWorker(opts?: { crash?: boolean }): Promise<void>;
  startWorker(): Promise<void>;
  stop(): Promise<void>;
}

const pick = async (port: number | undefined, fallback: number) =>
  port === 0 ? freePort() : (port ?? fallback);

/** Brings up Postgres (embedded unless DATABASE_URL), Temporal (dev server unless TEMPORAL_ADDRESS), worker and api. */
export async function startStack(opts: StackOptions): Promise<Stack> {
  const log = opts.log ?? ((l: string) => process.stderr.write(`${l}\n`));
  mkdirSync(opts.dataDir, { recursive: true });
  const cleanups: (() => Promise<void>)[] = [];
  const stopAll = async () => {
    // each part gets a bounded time: a part already killed by the terminal's Ctrl-C must not hang the rest
    for (const fn of cleanups.reverse()) {
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<void>((r) => {
        timer = setTimeout(r, 15_000);
      });
      await Promise.race([fn().catch((e: unknown) => log(`stop: ${String(e)}`)), timeout]);
      clearTimeout(timer);
    }
    cleanups.length = 0;
  };

  try {
    let databaseUrl = process.env.DATABASE_URL;
    if (!databaseUrl) {
      const pg: LocalPostgres = await startEmbeddedPostgres({
        dataDir: resolve(opts.dataDir, 'pg'),
        port: await pick(opts.postgresPort, 54329),
        log: (l) => log(`[postgres] ${l.trimEnd()}`),
      });
      cleanups.push(() => pg.stop());
      databaseUrl = pg.url;
    }

    let temporalAddress = process.env.TEMPORAL_ADDRESS;
    let temporalUiUrl: string | null = null;
    if (!temporalAddress) {
      const temporal: LocalTemporal = await startTemporalDevServer({
        port: await pick(opts.temporalPort, 7233),
        uiPort: await pick(opts.temporalUiPort, 8233),
        dbFile: opts.temporalInMemory ? null : resolve(opts.dataDir, 'temporal.db'),
        headless: opts.headless ?? false,
        log: (l) => log(`[temporal] ${l.trimEnd()}`),
      });
      cleanups.push(() => temporal.stop());
      temporalAddress = temporal.address;
      temporalUiUrl = temporal.uiUrl;
    }

    const shared: NodeJS.ProcessEnv = {
      // one OAuth2 token secret for every api process of this stack (tokens work on any of them)
      TOKEN_SIGNING_SECRET: persistedSecret(opts.dataDir, 'token-signing-secret', () =>
        randomBytes(32).toString('hex'),
      ),
      ...process.env,
      ...opts.env,
      DATABASE_URL: databaseUrl,
      TEMPORAL_ADDRESS: temporalAddress,
      ...(opts.providerBaseUrl ? { OPENAI_BASE_URL: opts.providerBaseUrl } : {}),
    };

    const workerMetricsPort = await pick(opts.workerMetricsPort, 9464);
    const bundle = shared.WORKFLOW_BUNDLE_PATH
      ? {}
      : { WORKFLOW_BUNDLE_PATH: await prebuiltWorkflowBundle(log) };
    let worker: ServiceProcess | undefined;
    const startWorker = async () => {
      worker = await startService({
        name: 'worker',
        entry: 'workers/src/main.ts',
        env: { ...shared, ...bundle, WORKER_METRICS_PORT: String(workerMetricsPort) },
        readyEvent: 'worker.ready',
        log,
        timeoutMs: 120_000,
      });
    };
    const stopWorker = async (o: { crash?: boolean } = {}) => {
      if (!worker) return;
      const w = worker;
      worker = undefined;
      if (o.crash) {
        const exited = new Promise((r) => w.child.once('exit', r));
        w.child.kill('SIGKILL');
        await exited;
      } else {
        await stopChild(w.child, 30_000);
      }
    };
    await startWorker();
    cleanups.push(() => stopWorker());

    const apiUrls: string[] = [];
    const apis: ServiceProcess[] = [];
    for (let i = 0; i < (opts.apiProcesses ?? 1); i++) {
      const port = i === 0 ? await pick(opts.apiPort, 3000) : await freePort();
      const api = await startService({
        name: apis.length === 0 ? 'api' : `api-${i + 1}`,
        entry: 'api/src/main.ts',
        // the bundle too: an api with API_EMBEDDED_WORKER=true hosts a worker
        env: { ...shared, ...bundle, PORT: String(port), ADMIN_TOKEN: opts.adminToken },
        readyEvent: 'api.ready',
        log,
      });
      apis.push(api);
      apiUrls.push(`http://127.0.0.1:${String(api.ready.port)}`);
    }
    cleanups.push(async () => {
      await Promise.all(apis.map((a) => stopChild(a.child, 30_000)));
    });

    return {
      apiUrl: apiUrls[0]!,
      apiUrls,
      temporalAddress,
      temporalUiUrl,
      databaseUrl,
      workerMetricsUrl: `http://127.0.0.1:${workerMetricsPort}/metrics`,
      adminToken: opts.adminToken,
      restartWorker: async (o = { crash: true }) => {
        await stopWorker(o);
        await startWorker();
      },
      stopWorker,
      startWorker,
      stop: stopAll,
    };
  } catch (err) {
    await stopAll();
    throw err;
  }
}

/** A value kept in the data dir across restarts (admin token, demo key). */
export function persistedSecret(
  dataDir: string,
  name: string,
  make: () => string = () => randomBytes(24).toString('hex'),
): string {
  mkdirSync(dataDir, { recursive: true });
  const file = resolve(dataDir, name);
  if (existsSync(file)) return readFileSync(file, 'utf8').trim();
  const value = make();
  writeFileSync(file, `${value}\n`, { mode: 0o600 });
  return value;
}

export { REPO_ROOT };
