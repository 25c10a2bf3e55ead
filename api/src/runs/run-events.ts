/**
 * The Server-Sent Events of a streaming run, shared by workflow mode (stream-run.ts) and direct mode
 * (direct/direct-stream.ts): the 200 `text/event-stream` head with a `: keep-alive` comment every 15 s,
 * `event: <name>` + one `data:` line per event, and the one closing `done` or `error` event.
 */
import { publicErrorCode, type RunOutcome } from '@promptmill/workflows';
import type { Response } from 'express';

const KEEP_ALIVE_MS = 15_000;

export function writeEvent(res: Response, event: string, data: unknown): void {
  if (res.writableEnded || res.destroyed) return;
  // JSON.stringify escapes newlines, so one data line is always enough
  res.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
}

/** Sends the SSE head (with `X-Run-Id`) and starts the keep-alive comments; clear the timer at the end. */
export function openEventStream(res: Response, runId: string): NodeJS.Timeout {
  res.status(200);
  res.setHeader('Content-Type', 'text/event-stream; charset=utf-8');
  res.setHeader('Cache-Control', 'no-cache, no-transform');
  res.setHeader('X-Accel-Buffering', 'no');
  res.setHeader('X-Run-Id', runId);
  res.flushHeaders();
  return setInterval(() => {
    if (!res.writableEnded && !res.destroyed) res.write(': keep-alive\n\n');
  }, KEEP_ALIVE_MS);
}

/** The closing event: `done` for a succeeded run, else `error` with the public code. */
export function writeOutcomeEvent(
  res: Response,
  runId: string,
  outcome: RunOutcome,
  promptVersion: number,
  startedAt: number,
): void {
  if (outcome.status === 'succeeded') {
    writeEvent(res, 'done', {
      runId,
      output: outcome.output ?? '',
      model: outcome.model,
      promptVersion,
      durationMs: Math.round(performance.now() - startedAt),
      usage: outcome.usage,
    });
  } else {
    writeEvent(res, 'error', {
      code: publicErrorCode(outcome.error?.code ?? 'PROVIDER_ERROR'),
      message: outcome.error?.message ?? 'Run failed',
      runId,
    });
  }
}
