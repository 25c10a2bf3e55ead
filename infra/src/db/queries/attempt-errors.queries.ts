import type { Queryable } from '../client.ts';

/** The most of a failure's own text kept with its attempt. */
export const MAX_ERROR_DETAIL_CHARS = 2_000;

/**
 * Keeps what went wrong in a failed attempt (the provider's error text, a transport error) on its
 * usage_events row, for operators: the API never shows it (tenants get the code and a fixed
 * message). Separate from insertAttemptUsage because only failures have it; a retried activity
 * overwrites it with its latest text.
 */
export async function setAttemptErrorDetail(
  sql: Queryable,
  a: { runId: string; seq: number; detail: string },
): Promise<void> {
  // a NUL cannot be stored in text; whatever else the provider sent is kept as it came
  const detail = a.detail.slice(0, MAX_ERROR_DETAIL_CHARS).replaceAll('\u0000', '\uFFFD');
  await sql`
    UPDATE usage_events SET error_detail = ${detail}
    WHERE run_id = ${a.runId} AND kind = 'attempt' AND seq = ${a.seq}`;
}
