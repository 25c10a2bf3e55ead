/**
 * Streaming runs in direct mode: the provider call runs in this process, so each delta is written to
 * the client's Server-Sent Events as it arrives (no NOTIFY round trip); the events are those of
 * workflow mode (stream-run.ts): `delta` `{delta}` per chunk, then exactly one `done`
 * `{runId, output, model, promptVersion, durationMs, usage}` or `error` `{code, message, runId}`, and
 * a `: keep-alive` comment every 15 s. A client that goes away aborts the provider call at once; the
 * run ends `canceled` with the tokens streamed so far.
 */
import type { RunOutcome } from '@promptmill/workflows';
import type { Response } from 'express';
import type { AuthContext } from '../../auth/auth-context.ts';
import type { RunDeps } from '../deps.ts';
import { prepareRun, type RunRequest } from '../prepare-run.ts';
import { openEventStream, writeEvent, writeOutcomeEvent } from '../run-events.ts';
import type { DirectRunner } from './direct-runner.ts';
import { clientGoneSignal } from './direct-sync.ts';

/**
 * Runs a prompt in this process and streams it as SSE. Everything that fails before the run exists
 * (validation, unknown prompt, budget) throws as usual and gets a JSON error; from the run's insert
 * on, the answer is 200 `text/event-stream` and every outcome is an event.
 */
export async function streamDirectRun(
  deps: RunDeps,
  runner: DirectRunner,
  auth: AuthContext,
  req: RunRequest,
  res: Response,
): Promise<void> {
  const started = performance.now();
  const prepared = await prepareRun(deps, auth, req, 'stream');
  const { runId } = prepared;
  const signal = clientGoneSignal(res);
  let keepAlive: NodeJS.Timeout | undefined;
  const open = () => {
    keepAlive = openEventStream(res, runId);
  };
  const sink = {
    push: (delta: string) => writeEvent(res, 'delta', { delta }),
    flush: async () => {},
    end: async () => {},
  };

  let outcome: RunOutcome;
  try {
    outcome = await runner.run(prepared, req, { signal, sink, onStarted: open });
  } catch (err) {
    if (!res.headersSent) throw err; // the run was never inserted: a JSON error
    writeEvent(res, 'error', { code: 'INTERNAL_ERROR', message: 'Run failed unexpectedly', runId });
    clearInterval(keepAlive);
    if (!res.writableEnded) res.end();
    return;
  }
  clearInterval(keepAlive);
  writeOutcomeEvent(res, runId, outcome, prepared.version.version, started);
  if (!res.writableEnded) res.end();
}
