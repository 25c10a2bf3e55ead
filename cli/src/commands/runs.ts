import type { Promptmill, Run, StreamResult, SyncRunResult, Usage } from '@promptmill/sdk';
import { UsageError } from '../cli-error.ts';
import type { Io } from '../output.ts';

/** `--var k=v` (repeatable) and `--vars '{"k": …}'` into one variables object. */
export function parseVariables(vars: string[], json: string | undefined): Record<string, unknown> {
  let out: Record<string, unknown> = {};
  if (json !== undefined) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(json);
    } catch {
      throw new UsageError('--vars must be a JSON object');
    }
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
      throw new UsageError('--vars must be a JSON object');
    }
    out = { ...(parsed as Record<string, unknown>) };
  }
  for (const v of vars) {
    const eq = v.indexOf('=');
    if (eq <= 0) throw new UsageError(`--var takes name=value, got '${v}'`);
    out[v.slice(0, eq)] = v.slice(eq + 1);
  }
  return out;
}

function summary(r: { runId: string; model: string; durationMs: number; usage: Usage }): string {
  const u = r.usage;
  return `${r.runId} · ${r.model} · ${u.promptTokens}+${u.completionTokens} tokens · $${u.cost.toFixed(6)} · ${r.durationMs} ms\n`;
}

export async function runPrompt(
  pm: Promptmill,
  io: Io,
  opts: {
    prompt: string;
    variables: Record<string, unknown>;
    stream: boolean;
    json: boolean;
    version?: number | undefined;
    label?: string | undefined;
    signal?: AbortSignal | undefined;
  },
) {
  const runOpts = {
    ...(opts.signal ? { signal: opts.signal } : {}),
    ...(opts.version !== undefined ? { version: opts.version } : {}),
    ...(opts.label !== undefined ? { label: opts.label } : {}),
  };
  if (!opts.stream) {
    const result: SyncRunResult = await pm.run(opts.prompt, opts.variables, runOpts);
    if (opts.json) io.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
    else {
      io.stdout.write(result.output.endsWith('\n') ? result.output : `${result.output}\n`);
      io.stderr.write(summary(result));
    }
    return;
  }
  const stream = await pm.stream(opts.prompt, opts.variables, runOpts);
  let wroteNewline = true;
  try {
    for await (const delta of stream) {
      if (opts.json) io.stdout.write(`${JSON.stringify({ type: 'delta', delta })}\n`);
      else io.stdout.write(delta);
      wroteNewline = delta.endsWith('\n');
    }
  } finally {
    if (!opts.json && !wroteNewline) io.stdout.write('\n');
  }
  const result: StreamResult = stream.result!;
  if (opts.json) io.stdout.write(`${JSON.stringify({ type: 'done', ...result })}\n`);
  else io.stderr.write(summary(result));
}

function runLine(r: Run): string {
  const tokens = r.usage.totalTokens;
  const ms = r.timings.durationMs ?? '';
  const err = r.error ? ` ${r.error.code}` : '';
  return `${r.timings.createdAt}  ${r.id}  ${r.status.padEnd(9)}  ${r.prompt.name} v${r.version}  ${r.model}  ${tokens} tok  ${ms} ms${err}\n`;
}

/**
 * Follows new runs: polls the newest page of runs and prints each run once it has finished (oldest
 * first). Shows the last `lines` finished runs first, like tail. Stops after `limit` new runs, or
 * on Ctrl-C / the signal.
 */
export async function tailRuns(
  pm: Promptmill,
  io: Io,
  opts: {
    prompt?: string | undefined;
    status?: Run['status'] | undefined;
    intervalMs: number;
    lines: number;
    limit?: number | undefined;
    json: boolean;
    signal: AbortSignal;
  },
) {
  const printed = new Set<string>();
  let printedNew = 0;
  const print = (r: Run) => {
    printed.add(r.id);
    io.stdout.write(opts.json ? `${JSON.stringify(r)}\n` : runLine(r));
  };
  const finished = (r: Run) => r.status === 'succeeded' || r.status === 'failed' || r.status === 'canceled';
  const query = {
    perPage: 100,
    ...(opts.prompt ? { prompt: opts.prompt } : {}),
    ...(opts.status ? { status: opts.status } : {}),
  };
  const first = await pm.runs.list(query, { signal: opts.signal });
  const seen = new Set(first.data.filter(finished).map((r) => r.id));
  const backlog = first.data.filter(finished).slice(0, opts.lines).reverse();
  for (const r of backlog) print(r);
  if (!opts.json)
    io.stderr.write(`following runs${opts.prompt ? ` of ${opts.prompt}` : ''} (Ctrl-C to stop)\n`);
  while (!opts.signal.aborted) {
    await new Promise<void>((resolve) => {
      const t = setTimeout(resolve, opts.intervalMs);
      opts.signal.addEventListener(
        'abort',
        () => {
          clearTimeout(t);
          resolve();
        },
        { once: true },
      );
    });
    if (opts.signal.aborted) return;
    const page = await pm.runs.list(query, { signal: opts.signal });
    for (const r of page.data.filter(finished).reverse()) {
      if (seen.has(r.id) || printed.has(r.id)) continue;
      print(r);
      printedNew++;
      if (opts.limit !== undefined && printedNew >= opts.limit) return;
    }
  }
}
