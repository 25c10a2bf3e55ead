/**
 * The run stream transport: how the worker that calls a provider hands each streamed delta to the
 * api process that holds the client's connection, and how that api process asks the worker to stop.
 *
 * Transport: Postgres LISTEN/NOTIFY.
 * - The worker NOTIFYs each delta on RUN_STREAM_CHANNEL as `{run, offset, delta}` (split below the
 *   8000-byte payload limit), then `{run, end: true, length}` (publisher.ts).
 * - Every api process holds ONE listening connection (started on its first streaming request) and
 *   hands each message to the response waiting for that run id (subscriber.ts); it subscribes
 *   before it starts the workflow, so no delta can be missed. Any number of api and worker
 *   processes work: every listener sees every NOTIFY, and each process picks its own runs out.
 * - When a client goes away, the api NOTIFYs RUN_CANCEL_CHANNEL (payload = run id) and the worker
 *   calling the provider for that run (streaming or not) aborts the request at once
 *   (cancellations.ts): a workflow cancellation reaches a running local activity only at its next
 *   workflow-task heartbeat.
 * - When a run ends, the transaction that ends it NOTIFYs RUN_DONE_CHANNEL (a trigger, migration
 *   012) and the api process waiting for it answers at once (run-done.ts).
 * - Why not the alternatives: Temporal itself (signals, queries, updates) reaches the workflow, not
 *   the api, and each would add a workflow task per token to the history; a message broker would be
 *   a new service to run for one feature; a direct worker → api connection needs addressing and
 *   breaks behind load balancers. Postgres is already shared by all.
 * - Costs: every api process receives every delta of every stream (fine up to thousands of tokens
 *   per second; shard the channel by run-id hash past that); NOTIFY is not durable, so a listener
 *   that reconnects mid-stream can miss deltas — the final `done` event carries the whole output.
 */
import { z } from 'zod';

export const RUN_STREAM_CHANNEL = 'pm_run_stream';
export const RUN_CANCEL_CHANNEL = 'pm_run_cancel';
/** A run has ended (payload = run id): NOTIFYed by a trigger on `runs` (migration 012), see run-done.ts. */
export const RUN_DONE_CHANNEL = 'pm_run_done';

/** NOTIFY payloads must stay under 8000 bytes; longer deltas are split across messages. */
export const STREAM_NOTIFY_MAX_BYTES = 7_900;

/**
 * A delta, placed by its offset in the output (UTF-16 code units before it), or the end marker with
 * the output's length. Offsets, not sequence numbers: a call re-run after a worker crash may group
 * the same text into different deltas, and the api must still write every character exactly once.
 */
export const runStreamMessageSchema = z.union([
  z.object({ run: z.string().min(1), offset: z.number().int().min(0), delta: z.string() }),
  z.object({ run: z.string().min(1), end: z.literal(true), length: z.number().int().min(0) }),
]);
export type RunStreamMessage = z.infer<typeof runStreamMessageSchema>;

/** Splits text so that each message's JSON stays under the NOTIFY payload limit (by code point). */
export function splitForNotify(runId: string, text: string, maxBytes = STREAM_NOTIFY_MAX_BYTES): string[] {
  const overhead = Buffer.byteLength(
    JSON.stringify({ run: runId, offset: Number.MAX_SAFE_INTEGER, delta: '' }),
  );
  const budget = maxBytes - overhead;
  if (Buffer.byteLength(JSON.stringify(text)) - 2 <= budget) return [text];
  const parts: string[] = [];
  let current = '';
  let size = 0;
  for (const ch of text) {
    const chSize = Buffer.byteLength(JSON.stringify(ch)) - 2;
    if (size + chSize > budget && current !== '') {
      parts.push(current);
      current = '';
      size = 0;
    }
    current += ch;
    size += chSize;
  }
  if (current !== '') parts.push(current);
  return parts;
}
