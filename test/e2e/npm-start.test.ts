// `npm start` as the README describes it: the whole platform on embedded defaults prints the API URL, the
// Temporal UI URL and a demo key that works; Ctrl-C (SIGINT to the process group, as a terminal sends it)
// stops every child process and prints "Stopped."; a second start reuses the data (same key). Its own
// stack on free ports and a temp data dir, beside the suite's.
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { freePort } from '@promptmill/dev/stack';
import { afterAll, describe, expect, it } from 'vitest';

const ROOT = resolve(import.meta.dirname, '../..');
const dataDir = mkdtempSync(join(tmpdir(), 'promptmill-npm-start-'));
let ports: Record<string, string>;
let running: ChildProcess | undefined;

/** Every live descendant of a process (from /proc). */
function descendants(pid: number): number[] {
  const parent = new Map<number, number>();
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const stat = readFileSync(`/proc/${d}/stat`, 'utf8');
      parent.set(Number(d), Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]));
    } catch {
      // gone meanwhile
    }
  }
  const out: number[] = [];
  const walk = (p: number) => {
    for (const [c, pp] of parent) {
      if (pp !== p) continue;
      out.push(c);
      walk(c);
    }
  };
  walk(pid);
  return out;
}

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return !readFileSync(`/proc/${pid}/stat`, 'utf8').includes(') Z ');
  } catch {
    return false;
  }
};

async function start(): Promise<{ child: ChildProcess; out: () => string }> {
  ports ??= {
    PORT: String(await freePort()),
    TEMPORAL_PORT: String(await freePort()),
    TEMPORAL_UI_PORT: String(await freePort()),
    POSTGRES_PORT: String(await freePort()),
    WORKER_METRICS_PORT: String(await freePort()),
  };
  const env: Record<string, string | undefined> = { ...process.env, ...ports, PROMPTMILL_DATA_DIR: dataDir };
  for (const v of ['OPENAI_API_KEY', 'DATABASE_URL', 'TEMPORAL_ADDRESS', 'ADMIN_TOKEN', 'NODE_ENV', 'VITEST'])
    delete env[v];
  // its own process group, as a terminal's foreground job: the test's SIGINT goes to all of it
  const child = spawn(join(ROOT, 'node_modules/.bin/tsx'), ['infra/dev/src/stack/start.ts'], {
    cwd: ROOT,
    env,
    detached: true,
  });
  running = child;
  let out = '';
  child.stdout!.on('data', (d: Buffer) => {
    out += d.toString();
  });
  child.stderr!.on('data', (d: Buffer) => {
    out += d.toString();
  });
  await new Promise<void>((ready, fail) => {
    const timer = setTimeout(() => fail(new Error(`npm start not ready:\n${out}`)), 150_000);
    const check = () => {
      if (/Ctrl-C stops everything/.test(out)) {
        clearTimeout(timer);
        ready();
      }
    };
    child.stdout!.on('data', check);
    child.once('exit', (code) => fail(new Error(`npm start exited (${code}):\n${out}`)));
  });
  return { child, out: () => out };
}

async function ctrlC(child: ChildProcess, out: () => string) {
  const children = descendants(child.pid!);
  expect(children.length).toBeGreaterThanOrEqual(4); // postgres, temporal, worker, api (and helpers)
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  process.kill(-child.pid!, 'SIGINT');
  await exited;
  running = undefined;
  expect(out()).toMatch(/Stopping Promptmill…\nStopped\./);
  // helpers end with their parent (tsx's esbuild service on its stdin closing): give a loaded machine time
  for (let i = 0; i < 50 && children.some(alive); i++) await new Promise((r) => setTimeout(r, 200));
  const cmdline = (pid: number) => {
    try {
      return readFileSync(`/proc/${pid}/cmdline`, 'utf8').replaceAll('\0', ' ');
    } catch {
      return `${pid} (gone)`;
    }
  };
  expect(children.filter(alive).map(cmdline)).toEqual([]);
}

afterAll(() => {
  if (running?.pid) process.kill(-running.pid, 'SIGKILL');
  rmSync(dataDir, { recursive: true, force: true });
});

describe('npm start', () => {
  let firstKey = '';

  it('starts everything, prints the URLs and a working demo key; Ctrl-C stops every child', async () => {
    const { child, out } = await start();
    const api = /API\s+(http:\/\/127\.0\.0\.1:\d+)/.exec(out())?.[1];
    const ui = /Temporal UI\s+(http:\/\/127\.0\.0\.1:\d+)/.exec(out())?.[1];
    firstKey = /Demo API key\s+(pm_live_[0-9a-f]{64})/.exec(out())?.[1] ?? '';
    expect(api).toBe(`http://127.0.0.1:${ports.PORT}`);
    expect(ui).toBe(`http://127.0.0.1:${ports.TEMPORAL_UI_PORT}`);
    expect(firstKey).not.toBe('');
    // the "Try it" command, as printed
    const res = await fetch(`${api}/api/v1/run`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-api-key': firstKey },
      body: JSON.stringify({ promptName: 'welcome-email', variables: { username: 'Steph' } }),
    });
    const body = (await res.json()) as { success: boolean; output: string; runId: string };
    expect(body).toMatchObject({ success: true, output: expect.stringContaining('Steph') });
    // the run is a workflow the Temporal UI shows
    const wf = await fetch(`${ui}/api/v1/namespaces/default/workflows/${body.runId}`);
    expect(wf.status).toBe(200);
    await ctrlC(child, out);
  }, 240_000);

  it('a second start reuses the data: same demo key, its prompt still there', async () => {
    const { child, out } = await start();
    expect(out()).toContain(`Demo API key   ${firstKey}`);
    const res = await fetch(`http://127.0.0.1:${ports.PORT}/v1/prompts/welcome-email`, {
      headers: { authorization: `Bearer ${firstKey}` },
    });
    expect(res.status).toBe(200);
    await ctrlC(child, out);
  }, 240_000);
});
