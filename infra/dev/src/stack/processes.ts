import { type ChildProcess, spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { killOnExit, REPO_ROOT } from './temporal.ts';

/**
 * V8 heap sizing of the api and worker processes, as in the production image (infra/docker/Dockerfile):
 * a young generation of 2 MiB per semi-space (default up to 16) and an old generation that grows 10 %
 * over what the last full GC kept (default up to 4×). Under load V8 otherwise lets garbage pile up
 * toward its ~4 GB limit: measured at c=32, RSS api 270 → 145 MiB, worker 455 → 250 MiB, for about
 * 1 ms more CPU per run in each (README, Benchmarks: memory). PROMPTMILL_NODE_FLAGS replaces them
 * (empty: V8's defaults).
 */
export const SERVICE_NODE_FLAGS = ['--max-semi-space-size=2', '--heap-growing-percent=10'];

function serviceNodeFlags(): string[] {
  const fromEnv = process.env.PROMPTMILL_NODE_FLAGS;
  return fromEnv === undefined ? SERVICE_NODE_FLAGS : fromEnv.split(/\s+/).filter((f) => f.length > 0);
}

export interface ServiceProcess {
  name: string;
  child: ChildProcess;
  /** the JSON "ready" line the service printed */
  ready: Record<string, unknown>;
}

/**
 * Starts a TypeScript entry point (api/src/main.ts, workers/src/main.ts) as a child process and
 * resolves once it prints its one-line JSON ready event. Plain `node`, as in production (Node strips
 * the types): no tsx loader thread, esbuild helper or source-map support, which cost every request
 * CPU (source maps make each compiled function scan for magic comments) and each process memory.
 */
export async function startService(opts: {
  name: string;
  entry: string;
  env: NodeJS.ProcessEnv;
  readyEvent: string;
  log: (line: string) => void;
  timeoutMs?: number;
}): Promise<ServiceProcess> {
  const child = spawn(process.execPath, [...serviceNodeFlags(), opts.entry], {
    cwd: REPO_ROOT,
    env: opts.env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  killOnExit(child);
  const lines = (stream: NodeJS.ReadableStream | null, onLine: (l: string) => void) => {
    if (stream) createInterface({ input: stream }).on('line', onLine);
  };
  lines(child.stderr, (l) => opts.log(`[${opts.name}] ${l}`));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${opts.name} did not become ready within ${opts.timeoutMs ?? 60_000} ms`));
    }, opts.timeoutMs ?? 60_000);
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`${opts.name} exited before it was ready (code ${code}, signal ${signal})`));
    });
    lines(child.stdout, (line) => {
      if (line.startsWith('{"event":')) {
        try {
          const parsed = JSON.parse(line) as Record<string, unknown>;
          if (parsed.event === opts.readyEvent) {
            clearTimeout(timer);
            child.removeAllListeners('exit');
            resolve({ name: opts.name, child, ready: parsed });
            return;
          }
        } catch {
          // not our line: fall through to the log
        }
      }
      opts.log(`[${opts.name}] ${line}`);
    });
  });
}
