import { APIUserAbortError, PromptmillError } from '../errors.ts';
import type { RequestOptions, Transport } from '../http.ts';
import { RunStream } from '../stream.ts';
import type { ListRunsQuery, Page, Run, RunStatus, StartRunParams, SyncRunResult } from '../types.ts';
import { isoTime, newIdempotencyKey, pageQuery } from './shared.ts';

export interface RunOptions extends RequestOptions {
  version?: number;
  label?: string;
}

export interface StartOptions extends RequestOptions {
  /** Default: a new random key, reused across this call's retries (so a retry never starts a second run). */
  idempotencyKey?: string;
  /** `Prefer: wait=N` (N ≤ 60): answer with the finished run when it ends within N s. */
  wait?: number;
}

export interface WaitOptions extends RequestOptions {
  /** Give up after this long (ms); default 10 minutes. The run goes on. */
  deadlineMs?: number;
}

/** What `runs.start` returns: the run's id and state, and the finished run when `wait` saw it end. */
export interface StartedRun {
  id: string;
  status: RunStatus;
  links: { self: string; cancel: string };
  /** the key this start was sent with: `runs.wait` long-polls through it */
  idempotencyKey: string;
  /** true when the api answered with a run an earlier request with this key had started */
  replayed: boolean;
  /** the finished run, when the start waited (`wait`) and the run ended in time */
  run: Run | null;
  /** what was sent, so `wait` can replay it */
  readonly params: StartRunParams;
  /** when it was sent (ms epoch): the api keeps an Idempotency-Key for 24 h */
  readonly sentAt: number;
}

/** Replaying a start is safe while the api still maps its key to the run (24 h); keep a margin. */
const REPLAY_WINDOW_MS = 23 * 3_600_000;

const FINISHED: ReadonlySet<RunStatus> = new Set(['succeeded', 'failed', 'canceled']);
const MAX_WAIT_SECONDS = 60;

function startBody(p: StartRunParams) {
  return {
    prompt: p.prompt,
    variables: p.variables ?? {},
    ...(p.version !== undefined ? { version: p.version } : {}),
    ...(p.label !== undefined ? { label: p.label } : {}),
    ...(p.metadata !== undefined ? { metadata: p.metadata } : {}),
    ...(p.webhookUrl !== undefined ? { webhookUrl: p.webhookUrl } : {}),
  };
}

/** Async runs (`/v1/runs`): start, read, list, wait, cancel. */
export class Runs {
  /** @internal */
  readonly t: Transport;
  constructor(t: Transport) {
    this.t = t;
  }

  /**
   * Starts an async run. One Idempotency-Key is sent on every attempt of the call, so a retry after a
   * lost answer gets the same run back instead of starting another.
   */
  async start(params: StartRunParams, opts: StartOptions = {}): Promise<StartedRun> {
    const idempotencyKey = opts.idempotencyKey ?? newIdempotencyKey();
    const wait =
      opts.wait === undefined ? undefined : Math.max(0, Math.min(MAX_WAIT_SECONDS, Math.floor(opts.wait)));
    const { body, response } = await this.t.json<{
      data: Run | { id: string; status: RunStatus; links: Run['links'] };
    }>('runs.start', {
      ...opts,
      body: startBody(params),
      idempotencyKey,
      headers: { ...opts.headers, ...(wait ? { prefer: `wait=${wait}` } : {}) },
      // a long-poll must not time out before the api answers it
      timeoutMs: (opts.timeoutMs ?? 60_000) + (wait ?? 0) * 1000,
    });
    const data = body.data;
    return {
      id: data.id,
      status: data.status,
      links: data.links,
      idempotencyKey,
      replayed: response.headers.get('idempotent-replayed') === 'true',
      run: response.status === 200 ? (data as Run) : null,
      params,
      sentAt: Date.now(),
    };
  }

  async get(id: string, opts?: RequestOptions): Promise<Run> {
    return (await this.t.json<{ data: Run }>('runs.get', { ...opts, params: { id } })).body.data;
  }

  async list(query: ListRunsQuery = {}, opts?: RequestOptions): Promise<Page<Run>> {
    const r = await this.t.json<Page<Run>>('runs.list', {
      ...opts,
      query: {
        ...pageQuery(query),
        status: query.status,
        prompt: query.prompt,
        chainRun: query.chainRun,
        from: isoTime(query.from),
        to: isoTime(query.to),
      },
    });
    return r.body;
  }

  /** Cancels a queued or running run (409 INVALID_STATE once it has finished). */
  async cancel(id: string, opts?: RequestOptions): Promise<Run> {
    return (await this.t.json<{ data: Run }>('runs.cancel', { ...opts, params: { id } })).body.data;
  }

  /**
   * Resolves with the run once it has finished. Given what `start` returned, it long-polls: the
   * start is sent again with its Idempotency-Key and `Prefer: wait=60`, which the api answers as soon
   * as the run ends (no new run: the key maps to the same one for 24 h; past 23 h it polls instead).
   * Given only an id, it polls `GET /v1/runs/:id` with backoff (250 ms up to 2 s).
   */
  async wait(run: StartedRun | string, opts: WaitOptions = {}): Promise<Run> {
    const deadline = Date.now() + (opts.deadlineMs ?? 600_000);
    if (typeof run !== 'string' && run.run && FINISHED.has(run.run.status)) return run.run;
    let delay = 250;
    for (;;) {
      if (opts.signal?.aborted) throw new APIUserAbortError('Request aborted');
      const left = Math.ceil((deadline - Date.now()) / 1000);
      if (left <= 0)
        throw new PromptmillError(`Run ${typeof run === 'string' ? run : run.id} did not finish in time`);
      if (typeof run === 'string' || Date.now() - run.sentAt > REPLAY_WINDOW_MS) {
        const current = await this.get(typeof run === 'string' ? run : run.id, opts);
        if (FINISHED.has(current.status)) return current;
        await new Promise((r) => setTimeout(r, Math.min(delay, left * 1000)));
        delay = Math.min(2000, delay * 2);
      } else {
        const again = await this.start(run.params, {
          ...opts,
          idempotencyKey: run.idempotencyKey,
          wait: Math.min(MAX_WAIT_SECONDS, left),
        });
        if (again.id !== run.id)
          throw new PromptmillError(`Idempotency-Key ${run.idempotencyKey} no longer maps to run ${run.id}`);
        if (again.run && FINISHED.has(again.run.status)) return again.run;
      }
    }
  }

  /** `start` then `wait`. */
  async createAndWait(params: StartRunParams, opts: StartOptions & WaitOptions = {}): Promise<Run> {
    const started = await this.start(params, { ...opts, wait: opts.wait ?? MAX_WAIT_SECONDS });
    return this.wait(started, opts);
  }
}

/** The seed-compatible sync run routes. */
export class SyncRuns {
  /** @internal */
  readonly t: Transport;
  constructor(t: Transport) {
    this.t = t;
  }

  async run(
    promptName: string,
    variables: Record<string, unknown> = {},
    opts: RunOptions = {},
  ): Promise<SyncRunResult> {
    const { version, label, ...req } = opts;
    const r = await this.t.json<SyncRunResult>('runs.sync', {
      ...req,
      body: {
        promptName,
        variables,
        stream: false,
        ...(version ? { version } : {}),
        ...(label ? { label } : {}),
      },
    });
    return r.body;
  }

  async stream(
    promptName: string,
    variables: Record<string, unknown> = {},
    opts: RunOptions = {},
  ): Promise<RunStream> {
    const { version, label, ...req } = opts;
    const abort = new AbortController();
    const { response } = await this.t.send(
      'runs.sync',
      {
        ...req,
        body: {
          promptName,
          variables,
          stream: true,
          ...(version ? { version } : {}),
          ...(label ? { label } : {}),
        },
      },
      abort,
    );
    return new RunStream(response, abort);
  }

  async agent(
    promptId: string,
    variables: Record<string, unknown> = {},
    opts: RequestOptions = {},
  ): Promise<SyncRunResult> {
    const r = await this.t.json<SyncRunResult>('agents.execute', {
      ...opts,
      params: { promptId },
      body: { variables },
    });
    return r.body;
  }
}
