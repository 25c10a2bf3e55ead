import { APIError, PromptmillError, RunStreamError } from '@promptmill/sdk';

/** Wrong usage (unknown option, missing argument, bad value): exit code 2. */
export class UsageError extends Error {
  override name = 'UsageError';
}

/** Something the user must fix that is not an API answer (no key, unreadable prompt file): exit 1. */
export class CliError extends Error {
  override name = 'CliError';
}

export const EXIT = { ok: 0, failure: 1, usage: 2, interrupted: 130 } as const;

/** One line for any error, and the exit code that goes with it. */
export function describeError(err: unknown): { line: string; code: number } {
  if (err instanceof UsageError) return { line: `${err.message} (see --help)`, code: EXIT.usage };
  if (err instanceof APIError) {
    const where = [err.requestId ? `request ${err.requestId}` : '', err.runId ? `run ${err.runId}` : '']
      .filter(Boolean)
      .join(', ');
    const detail =
      err.details.length > 0 ? ` [${err.details.map((d) => `${d.field}: ${d.message}`).join('; ')}]` : '';
    return { line: `${oneLine(err.message)}${detail}${where ? ` (${where})` : ''}`, code: EXIT.failure };
  }
  if (err instanceof RunStreamError) {
    return { line: `${oneLine(err.message)}${err.runId ? ` (run ${err.runId})` : ''}`, code: EXIT.failure };
  }
  if (err instanceof PromptmillError || err instanceof CliError)
    return { line: oneLine(err.message), code: EXIT.failure };
  const e = err as { code?: string; message?: string };
  if (typeof e?.code === 'string' && e.code.startsWith('ERR_PARSE_ARGS')) {
    return { line: `${oneLine(e.message ?? 'bad arguments')} (see --help)`, code: EXIT.usage };
  }
  return { line: oneLine(e?.message ?? String(err)), code: EXIT.failure };
}

function oneLine(s: string): string {
  return s.replace(/\s*\n\s*/g, ' ').trim();
}
