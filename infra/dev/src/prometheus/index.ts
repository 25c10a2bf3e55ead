/**
 * Prometheus and promtool for tests: the binaries scripts/setup.sh unpacks into .venv/prometheus/bin
 * (Debian's `prometheus` package), or PROMETHEUS_BIN_DIR; and a throwaway Prometheus server (free port,
 * temp storage) for test/e2e/prometheus.test.ts.
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { freePort, waitFor } from '../stack/ports.ts';
import { killOnExit, REPO_ROOT, stopChild } from '../stack/temporal.ts';

export interface PrometheusBinaries {
  prometheus: string;
  promtool: string;
  /** `promtool --version`'s first line */
  version: string;
}

/** The binaries, or why there are none (tests skip with that message). */
export function findPrometheus(): PrometheusBinaries | { missing: string } {
  const dir = process.env.PROMETHEUS_BIN_DIR ?? resolve(REPO_ROOT, '.venv/prometheus/bin');
  const prometheus = join(dir, 'prometheus');
  const promtool = join(dir, 'promtool');
  if (!existsSync(prometheus) || !existsSync(promtool)) {
    return {
      missing:
        `Prometheus/promtool not found in ${dir}: run \`npm run setup\` (unpacks Debian's prometheus package ` +
        'into .venv/prometheus) or set PROMETHEUS_BIN_DIR to a folder holding both binaries',
    };
  }
  const out = spawnSync(promtool, ['--version'], { encoding: 'utf8' });
  if (out.status !== 0) return { missing: `${promtool} does not run: ${out.stderr || out.error?.message}` };
  return { prometheus, promtool, version: (out.stdout || out.stderr).split('\n')[0]!.trim() };
}

export interface RunningPrometheus {
  url: string;
  /** GET /api/v1/query: the result vector, or the parse/eval error Prometheus gives */
  query(expr: string): Promise<PromResult>;
  get<T>(path: string): Promise<T>;
  stop(): Promise<void>;
}

export type PromResult =
  | { ok: true; series: { metric: Record<string, string>; value: [number, string] }[] }
  | { ok: false; error: string };

/**
 * Starts `prometheus` with the given config (YAML or JSON text; rule_files should be absolute) on a free
 * loopback port with storage in a temp dir, and waits until it is ready.
 */
export async function startPrometheus(
  binary: string,
  config: string,
  log: (line: string) => void = () => {},
): Promise<RunningPrometheus> {
  const dir = mkdtempSync(join(tmpdir(), 'promptmill-prometheus-'));
  const configFile = join(dir, 'prometheus.yml');
  writeFileSync(configFile, config);
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const child = spawn(
    binary,
    [
      `--config.file=${configFile}`,
      `--storage.tsdb.path=${join(dir, 'data')}`,
      `--web.listen-address=127.0.0.1:${port}`,
      '--log.level=warn',
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  killOnExit(child);
  child.stdout?.on('data', (d: Buffer) => log(d.toString()));
  child.stderr?.on('data', (d: Buffer) => log(d.toString()));
  let exited = false;
  child.once('exit', () => {
    exited = true;
  });
  const stop = async () => {
    await stopChild(child, 5_000);
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    await waitFor(
      `Prometheus on ${url}`,
      async () => {
        if (exited) throw new Error('prometheus exited early (see its log)');
        return (await fetch(`${url}/-/ready`).catch(() => undefined))?.status === 200;
      },
      20_000,
    );
  } catch (err) {
    await stop();
    throw err;
  }
  const get = async <T>(path: string): Promise<T> => (await (await fetch(`${url}${path}`)).json()) as T;
  return {
    url,
    get,
    async query(expr) {
      const body = await get<{
        status: string;
        error?: string;
        data?: { resultType: string; result: { metric: Record<string, string>; value: [number, string] }[] };
      }>(`/api/v1/query?query=${encodeURIComponent(expr)}`);
      if (body.status !== 'success') return { ok: false, error: body.error ?? body.status };
      if (body.data?.resultType !== 'vector')
        return { ok: false, error: `not a vector: ${body.data?.resultType}` };
      return { ok: true, series: body.data.result };
    },
    stop,
  };
}
