/**
 * Streaming runs (`POST /api/v1/run` with `stream: true`): the api end of the delta transport
 * (@promptmill/infra/run-stream has the transport and why it is Postgres LISTEN/NOTIFY) and the
 * Server-Sent Events writer.
 *
 * Ordering: deltas carry their offset in the output; the api writes the text strictly in order, and
 * writes `done` only after the run's outcome is in (its recorded row, announced when its completion
 * commits, or the workflow's result) AND the end marker and all the text before it have arrived (or
 * a short grace period has passed), so `done`/`error` is always the last event.
 * A worker that crashes mid-stream re-runs the call; text already written is not written again
 * (with a non-deterministic model the re-run's text can differ: `done.output` is authoritative).
 *
 * Client disconnect: the workflow is cancelled, and the worker is asked to stop the provider request
 * at once (a workflow cancellation reaches a running local activity only at its next workflow-task
 * heartbeat). The run ends `canceled` with the usage of the tokens streamed so far.
 *
 * SSE: `event: delta` `{delta}` per chunk, then exactly one `event: done`
 * `{runId, output, model, promptVersion, durationMs, usage}` or `event: error` `{code, message, runId}`;
 * a `: keep-alive` comment every 15 s while nothing else is sent.
 */
import { DeltaSequencer, runStreamHubFor } from '@promptmill/infra/run-stream';
import { publicErrorCode, type RunOutcome } from '@promptmill/workflows';
import type { Response } from 'express';
import type { AuthContext } from '../auth/auth-context.ts';
import type { RunDeps } from './deps.ts';
import { streamDirectRun } from './direct/direct-stream.ts';
import { prepareRun, type RunRequest } from './prepare-run.ts';
import { cancelAbandonedRun, waitForOutcome, watchRunDone } from './run-outcome.ts';
import { reportQueueDelay, startRun } from './sync-run.ts';

const KEEP_ALIVE_MS = 15_000;
/** After the run's outcome, how long to wait for deltas still in flight. */
const END_GRACE_MS = 2_000;

function writeEvent(res: Response, event: string, data: unknown): void {
  if (res.writableEnded || res.destroyed) return;
  // JSON.stringify escapes newlines, so one data line is always enough
  res.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
}

/**
 * Runs a prompt and streams it as SSE. Everything that can fail before the run exists (auth,
 * validation, unknown prompt, budget) throws as usual and gets a JSON error; once the workflow has
 * started the answer is 200 `text/event-stream` and every outcome is an event.
 */
export async function streamRun(
  deps: RunDeps,
  auth: AuthContext,
  req: RunRequest,
  res: Response,
): Promise<void> {
  if (deps.direct) return streamDirectRun(deps, deps.direct, auth, req, res);
  const started = performance.now();
  const prepared = await prepareRun(deps, auth, req, 'stream');
  const { runId } = prepared;
  const hub = runStreamHubFor(deps.sql);
  await hub.ready();

  const sequencer = new DeltaSequencer();
  let isOpen = false;
  const writeDeltas = () => {
    if (!isOpen) return;
    for (const delta of sequencer.take()) writeEvent(res, 'delta', { delta });
  };
  const unsubscribe = hub.subscribe(runId, (message) => {
    sequencer.accept(message);
    writeDeltas();
  });
  const gone = new AbortController();
  res.on('close', () => {
    if (!res.writableFinished) gone.abort();
  });

  const done = await watchRunDone(deps, runId);
  try {
    await startRun(deps, prepared, req);
  } catch (err) {
    unsubscribe();
    done?.release();
    throw err;
  }

  res.status(200);
  res.setHeader('Content-Type', 'text/event-stream; charset=utf-8');
  res.setHeader('Cache-Control', 'no-cache, no-transform');
  res.setHeader('X-Accel-Buffering', 'no');
  res.setHeader('X-Run-Id', runId);
  res.flushHeaders();
  isOpen = true;
  writeDeltas(); // anything that came between the subscription and now

  const keepAlive = setInterval(() => {
    if (!res.writableEnded && !res.destroyed) res.write(': keep-alive\n\n');
  }, KEEP_ALIVE_MS);

  try {
    let outcome: RunOutcome | undefined;
    try {
      // the run row as soon as its completion commits, or the workflow's result (run-workflow.ts)
      outcome = await waitForOutcome(deps, runId, Number.POSITIVE_INFINITY, {
        done,
        signal: gone.signal,
        onRecorded: (run) => reportQueueDelay(deps, run),
      });
    } catch (err) {
      if (!gone.signal.aborted) throw err;
    }
    if (!outcome) {
      await cancelAbandonedRun(deps, runId); // no timeout: only a client that went away ends the wait
      return;
    }
    const hasStreamed = outcome.status === 'succeeded' || outcome.error?.code === 'STREAM_BROKEN';
    if (hasStreamed) await sequencer.whenComplete(END_GRACE_MS);
    writeDeltas();
    if (outcome.status === 'succeeded') {
      writeEvent(res, 'done', {
        runId,
        output: outcome.output ?? '',
        model: outcome.model,
        promptVersion: prepared.version.version,
        durationMs: Math.round(performance.now() - started),
        usage: outcome.usage,
      });
    } else {
      writeEvent(res, 'error', {
        code: publicErrorCode(outcome.error?.code ?? 'PROVIDER_ERROR'),
        message: outcome.error?.message ?? 'Run failed',
        runId,
      });
    }
  } catch {
    // the headers are gone: an unexpected failure (Temporal unreachable, workflow failure) is an event too
    writeEvent(res, 'error', { code: 'INTERNAL_ERROR', message: 'Run failed unexpectedly', runId });
  } finally {
    clearInterval(keepAlive);
    unsubscribe();
    done?.release();
    if (!res.writableEnded) res.end();
  }
}
