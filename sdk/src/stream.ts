/**
 * A streaming run as an async iterator of text deltas. The api sends Server-Sent Events: `delta`
 * `{delta}` per chunk, then exactly one `done` `{runId, output, model, promptVersion, durationMs,
 * usage}` or `error` `{code, message, runId}` (api/src/runs/stream-run.ts). An `error` event, or a
 * connection that ends before `done`, makes the iterator throw a RunStreamError.
 */
import { RunStreamError } from './errors.ts';
import type { StreamResult } from './types.ts';

export interface ServerSentEvent {
  event: string;
  data: string;
}

/** Parses an SSE byte stream (comments skipped, multi-line `data:` joined with \n). */
export async function* parseServerSentEvents(
  body: ReadableStream<Uint8Array>,
): AsyncGenerator<ServerSentEvent> {
  const decoder = new TextDecoder();
  const reader = body.getReader();
  let buffer = '';
  let event = '';
  let data: string[] = [];
  try {
    for (;;) {
      const { value, done } = await reader.read();
      buffer += done ? decoder.decode() : decoder.decode(value, { stream: true });
      let newline = buffer.search(/\r\n|\r|\n/);
      while (newline >= 0) {
        const line = buffer.slice(0, newline);
        buffer = buffer.slice(
          buffer[newline] === '\r' && buffer[newline + 1] === '\n' ? newline + 2 : newline + 1,
        );
        if (line === '') {
          if (data.length > 0) yield { event: event || 'message', data: data.join('\n') };
          event = '';
          data = [];
        } else if (!line.startsWith(':')) {
          const colon = line.indexOf(':');
          const field = colon < 0 ? line : line.slice(0, colon);
          const value = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '');
          if (field === 'event') event = value;
          else if (field === 'data') data.push(value);
        }
        newline = buffer.search(/\r\n|\r|\n/);
      }
      if (done) return;
    }
  } finally {
    reader.releaseLock();
  }
}

function parseJson(data: string): Record<string, unknown> {
  try {
    const v: unknown = JSON.parse(data);
    return typeof v === 'object' && v !== null ? (v as Record<string, unknown>) : {};
  } catch {
    return {};
  }
}

/**
 * `for await (const delta of stream)` yields the text as it comes; `stream.result` (or `await
 * stream.final()`) is the `done` event with the output and its usage. Iterate once. Leaving the loop
 * early (break, throw) closes the connection, which cancels the run.
 */
export class RunStream implements AsyncIterable<string> {
  /** The run's id (`X-Run-Id`), known before the first delta. */
  readonly runId: string | undefined;
  readonly requestId: string | undefined;
  /** Set once the `done` event has arrived. */
  result: StreamResult | undefined;
  readonly #response: Response;
  readonly #abort: AbortController;
  #consumed = false;

  constructor(response: Response, abort: AbortController) {
    this.#response = response;
    this.#abort = abort;
    this.runId = response.headers.get('x-run-id') ?? undefined;
    this.requestId = response.headers.get('x-request-id') ?? undefined;
  }

  async *[Symbol.asyncIterator](): AsyncGenerator<string, void, undefined> {
    if (this.#consumed) throw new TypeError('A RunStream can be iterated once');
    this.#consumed = true;
    const body = this.#response.body;
    if (!body) throw new RunStreamError('STREAM_INCOMPLETE', 'The answer had no body', this.runId);
    let ended = false;
    try {
      for await (const sse of parseServerSentEvents(body)) {
        const data = parseJson(sse.data);
        if (sse.event === 'delta') {
          if (typeof data.delta === 'string' && data.delta) yield data.delta;
        } else if (sse.event === 'done') {
          this.result = data as unknown as StreamResult;
          ended = true;
          return;
        } else if (sse.event === 'error') {
          ended = true;
          throw new RunStreamError(
            typeof data.code === 'string' ? data.code : 'INTERNAL_ERROR',
            typeof data.message === 'string' ? data.message : 'Run failed',
            typeof data.runId === 'string' ? data.runId : this.runId,
          );
        }
      }
      ended = true;
      throw new RunStreamError(
        'STREAM_INCOMPLETE',
        'The connection ended before the run did (no done or error event)',
        this.runId,
      );
    } catch (err) {
      if (err instanceof RunStreamError) throw err;
      ended = true;
      throw new RunStreamError(
        'STREAM_INCOMPLETE',
        `The stream broke: ${(err as Error)?.message}`,
        this.runId,
      );
    } finally {
      if (!ended) this.#abort.abort();
    }
  }

  /** Reads the rest of the stream and resolves with the `done` event (throws RunStreamError on `error`). */
  async final(): Promise<StreamResult> {
    if (!this.#consumed) for await (const _ of this) void _;
    if (!this.result) throw new RunStreamError('STREAM_INCOMPLETE', 'The stream has not ended', this.runId);
    return this.result;
  }

  /** Stops the stream: the api cancels the run. */
  abort(): void {
    this.#abort.abort();
  }
}
