/**
 * Closed-loop HTTP load generator for the comparison bench (node:http, one keep-alive agent per
 * cell sized to the concurrency).
 *
 * A cell: `concurrency` loops, each sending one request at a time over the cell's own connection
 * pool. Every loop first warms up (at least one request, more until `warmupMs` has passed), then
 * all loops wait for each other, and only then does the measured phase start, on the same
 * connections: nothing from the warm-up is still running when measuring starts (a separate warm-up
 * pass would leave sync runs executing into the measured cell), and nothing of the cell is running
 * when it returns (closed loop: every request sent is awaited). The measured phase is bounded in
 * count and time.
 */
import http from 'node:http';

/** How a response is read: a JSON body, or an SSE stream in the OpenAI or the Promptmill format. */
export type ResponseKind = 'json' | 'openai-sse' | 'promptmill-sse';

export interface RequestSpec {
  method: 'GET' | 'POST';
  url: string;
  headers: Record<string, string>;
  body?: string;
  kind: ResponseKind;
  /** a JSON body must contain this text to count as a success */
  expectText?: string;
}

export interface CellOptions {
  concurrency: number;
  /** measured requests at most */
  maxRequests: number;
  /** measured phase at most this long (requests in flight at the deadline are awaited) */
  measureMs: number;
  /** each loop keeps warming up until this much time has passed (at least one request each) */
  warmupMs: number;
  /** a request that takes longer fails */
  timeoutMs: number;
}

export interface CellHooks {
  /** right before the measured phase (all warm-up requests done) */
  onMeasureStart?(): void;
  /** right after the last measured request finished */
  onMeasureEnd?(): void;
}

export interface Percentiles {
  p50: number;
  p95: number;
  p99: number;
}

export interface CellResult extends Percentiles {
  concurrency: number;
  count: number;
  errors: number;
  /** the first few failures, for the report */
  errorSamples: string[];
  seconds: number;
  throughput: number;
  /** streams only: time to the first content delta */
  firstContent?: Percentiles;
}

interface Outcome {
  ok: boolean;
  ms: number;
  firstContentMs?: number;
  error?: string;
}

export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const idx = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[idx]!;
}

function percentiles(values: number[]): Percentiles {
  values.sort((a, b) => a - b);
  return { p50: percentile(values, 50), p95: percentile(values, 95), p99: percentile(values, 99) };
}

/** The content of the first choice's delta in an OpenAI chat-completion chunk, if any. */
function openAiDeltaContent(data: string): string | undefined {
  let parsed: unknown;
  try {
    parsed = JSON.parse(data);
  } catch {
    return undefined;
  }
  if (typeof parsed !== 'object' || parsed === null || !('choices' in parsed)) return undefined;
  const choices = parsed.choices;
  if (!Array.isArray(choices)) return undefined;
  const first: unknown = choices[0];
  if (typeof first !== 'object' || first === null || !('delta' in first)) return undefined;
  const delta = first.delta;
  if (typeof delta !== 'object' || delta === null || !('content' in delta)) return undefined;
  return typeof delta.content === 'string' ? delta.content : undefined;
}

/**
 * Reads an SSE body as it arrives: notes the time of the first content delta and whether the
 * stream ended properly (`data: [DONE]` / `event: done`), or failed (`event: error`).
 */
class SseWatcher {
  #buffer = '';
  firstContentAt: number | undefined;
  finished = false;
  failed: string | undefined;
  readonly #kind: ResponseKind;

  constructor(kind: ResponseKind) {
    this.#kind = kind;
  }

  push(chunk: string, now: number): void {
    this.#buffer += chunk;
    for (let end = this.#buffer.indexOf('\n\n'); end >= 0; end = this.#buffer.indexOf('\n\n')) {
      const event = this.#buffer.slice(0, end);
      this.#buffer = this.#buffer.slice(end + 2);
      this.#onEvent(event, now);
    }
  }

  #onEvent(event: string, now: number): void {
    let name = 'message';
    const data: string[] = [];
    for (const line of event.split('\n')) {
      if (line.startsWith('event:')) name = line.slice(6).trim();
      else if (line.startsWith('data:')) data.push(line.slice(5).trimStart());
    }
    const payload = data.join('\n');
    if (this.#kind === 'promptmill-sse') {
      if (name === 'delta' && this.firstContentAt === undefined) this.firstContentAt = now;
      else if (name === 'done') this.finished = true;
      else if (name === 'error') this.failed = `event: error ${payload.slice(0, 200)}`;
      return;
    }
    if (payload === '[DONE]') {
      this.finished = true;
      return;
    }
    if (this.firstContentAt === undefined && (openAiDeltaContent(payload) ?? '').length > 0) {
      this.firstContentAt = now;
    }
  }
}

function send(agent: http.Agent, spec: RequestSpec, timeoutMs: number): Promise<Outcome> {
  const started = performance.now();
  return new Promise((resolve) => {
    let settled = false;
    const done = (o: Omit<Outcome, 'ms'>) => {
      if (settled) return;
      settled = true;
      resolve({ ...o, ms: performance.now() - started });
    };
    const headers: Record<string, string> = { ...spec.headers };
    if (spec.body !== undefined) headers['content-length'] = String(Buffer.byteLength(spec.body));
    const req = http.request(spec.url, { method: spec.method, headers, agent }, (res) => {
      res.setEncoding('utf8');
      const status = res.statusCode ?? 0;
      const sse = spec.kind === 'json' ? undefined : new SseWatcher(spec.kind);
      let body = '';
      res.on('data', (chunk: string) => {
        if (sse && status === 200) sse.push(chunk, performance.now());
        else body += chunk;
      });
      res.on('error', (err) => done({ ok: false, error: `response: ${err.message}` }));
      res.on('end', () => {
        if (status !== 200) return done({ ok: false, error: `HTTP ${status} ${body.slice(0, 300)}` });
        if (sse) {
          if (sse.failed) return done({ ok: false, error: sse.failed });
          if (!sse.finished || sse.firstContentAt === undefined) {
            return done({ ok: false, error: 'stream ended without content or without its end event' });
          }
          return done({ ok: true, firstContentMs: sse.firstContentAt - started });
        }
        if (spec.expectText !== undefined && !body.includes(spec.expectText)) {
          return done({ ok: false, error: `unexpected body: ${body.slice(0, 300)}` });
        }
        done({ ok: true });
      });
    });
    req.setTimeout(timeoutMs, () => req.destroy(new Error(`timeout after ${timeoutMs} ms`)));
    req.on('error', (err) => done({ ok: false, error: `request: ${err.message}` }));
    req.end(spec.body);
  });
}

/** Runs one cell (warm-up, then the measured phase on the same connections). */
export async function runCell(
  spec: RequestSpec,
  opts: CellOptions,
  hooks: CellHooks = {},
): Promise<CellResult> {
  const agent = new http.Agent({
    keepAlive: true,
    maxSockets: opts.concurrency,
    maxFreeSockets: opts.concurrency,
  });
  const latencies: number[] = [];
  const firstContent: number[] = [];
  const errorSamples: string[] = [];
  let errors = 0;
  let started = 0;
  let deadline = Number.POSITIVE_INFINITY;

  const warmupUntil = performance.now() + opts.warmupMs;
  let waiting = opts.concurrency;
  let release: () => void = () => {};
  const measuring = new Promise<void>((r) => {
    release = r;
  });
  let t0 = 0;

  const loop = async () => {
    do {
      await send(agent, spec, opts.timeoutMs); // warm-up: outcome not counted
    } while (performance.now() < warmupUntil);
    if (--waiting === 0) {
      hooks.onMeasureStart?.();
      t0 = performance.now();
      deadline = t0 + opts.measureMs;
      release();
    }
    await measuring;
    while (started < opts.maxRequests && performance.now() < deadline) {
      started++;
      const o = await send(agent, spec, opts.timeoutMs);
      latencies.push(o.ms);
      if (o.firstContentMs !== undefined) firstContent.push(o.firstContentMs);
      if (!o.ok) {
        errors++;
        if (errorSamples.length < 5) errorSamples.push(o.error ?? 'failed');
      }
    }
  };
  let seconds: number;
  try {
    await Promise.all(Array.from({ length: opts.concurrency }, loop));
    seconds = (performance.now() - t0) / 1000;
    hooks.onMeasureEnd?.();
  } finally {
    agent.destroy();
  }
  return {
    concurrency: opts.concurrency,
    count: latencies.length,
    errors,
    errorSamples,
    seconds,
    throughput: latencies.length / seconds,
    ...percentiles(latencies),
    ...(spec.kind === 'json' ? {} : { firstContent: percentiles(firstContent) }),
  };
}
