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
import type { RunOutcome } from '@promptmill/workflows';
import type { Response } from 'express';
import type { AuthContext } from '../auth/auth-context.ts';
import type { RunDeps } from './deps.ts';
import { streamDirectRun } from './direct/direct-stream.ts';
import { prepareRun, type RunRequest } from './prepare-run.ts';
import { openEventStream, writeEvent, writeOutcomeEvent } from './run-events.ts';
import { cancelAbandonedRun, waitForOutcome, watchRunDone } from './run-outcome.ts';
import { reportQueueDelay, startRun } from './sync-run.ts';

/** After the run's outcome, how long to wait for deltas still in flight. */
const END_GRACE_MS = 2_000;

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

  const keepAlive = openEventStream(res, runId);
  isOpen = true;
  writeDeltas(); // anything that came between the subscription and now

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
    writeOutcomeEvent(res, runId, outcome, prepared.version.version, started);
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
