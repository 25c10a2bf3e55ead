/**
 * Starting and stopping a peer server (Portkey, LiteLLM) as a child process of the bench: output
 * kept in a short ring buffer for error messages (a pipe nobody reads would block the child),
 * readiness by polling an HTTP path, SIGTERM then SIGKILL on stop, and SIGTERM when the bench exits.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { createInterface } from 'node:readline';

export interface PeerProcess {
  name: string;
  pid: number;
  /** http://127.0.0.1:PORT */
  origin: string;
  /** the last lines the child printed */
  output(): string;
  stop(): Promise<void>;
}

const TAIL_LINES = 40;

export async function startPeerProcess(opts: {
  name: string;
  command: string;
  args: string[];
  env: NodeJS.ProcessEnv;
  cwd: string;
  port: number;
  /** GET this path until it answers (any status below 500) */
  readyPath: string;
  readyTimeoutMs: number;
}): Promise<PeerProcess> {
  const child = spawn(opts.command, opts.args, {
    cwd: opts.cwd,
    env: opts.env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const tail: string[] = [];
  const keep = (line: string) => {
    tail.push(line);
    if (tail.length > TAIL_LINES) tail.shift();
  };
  for (const stream of [child.stdout, child.stderr]) {
    if (stream) createInterface({ input: stream }).on('line', keep);
  }
  const killAtExit = () => child.kill('SIGTERM');
  process.once('exit', killAtExit);
  let exited = false;
  child.once('exit', () => {
    exited = true;
    process.off('exit', killAtExit);
  });
  const output = () => tail.join('\n');
  const origin = `http://127.0.0.1:${opts.port}`;

  const deadline = Date.now() + opts.readyTimeoutMs;
  for (;;) {
    if (exited) throw new Error(`${opts.name} exited before it was ready:\n${output()}`);
    try {
      const res = await fetch(`${origin}${opts.readyPath}`, { signal: AbortSignal.timeout(1_000) });
      await res.arrayBuffer();
      if (res.status < 500) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      await stop(child);
      throw new Error(`${opts.name} was not ready within ${opts.readyTimeoutMs} ms:\n${output()}`);
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  if (child.pid === undefined) throw new Error(`${opts.name}: no pid`);
  return { name: opts.name, pid: child.pid, origin, output, stop: () => stop(child) };
}

async function stop(child: ChildProcess, graceMs = 10_000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  await new Promise<void>((resolve) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve();
    });
    child.kill('SIGTERM');
  });
}
