import { type ChatMessage, MAX_RUN_PAYLOAD_BYTES } from '@promptmill/workflows';
import { AppError } from '../http/app-error.ts';

const grouped = (n: number) => n.toLocaleString('en-US');

/**
 * 413 PROMPT_TOO_LARGE when the rendered messages would not fit the run's workflow input (see
 * MAX_RUN_PAYLOAD_BYTES): checked before the run row exists, so no run is queued, started or
 * retried for a prompt Temporal would refuse. The render budget bounds characters; this bounds the
 * bytes on the wire (a character is up to 3 bytes of UTF-8, a control character 6 once escaped).
 */
export function assertPromptFitsRun(messages: readonly ChatMessage[]): void {
  // UTF-16 units × 6 bounds the bytes: most prompts are decided without serialising them
  const upperBound = messages.reduce((n, m) => n + 6 * m.content.length + 40, 0);
  if (upperBound <= MAX_RUN_PAYLOAD_BYTES) return;
  const bytes = Buffer.byteLength(JSON.stringify(messages), 'utf8');
  if (bytes <= MAX_RUN_PAYLOAD_BYTES) return;
  const message = `The rendered prompt is ${grouped(bytes)} bytes; a run's prompt may have at most ${grouped(MAX_RUN_PAYLOAD_BYTES)} bytes (UTF-8 JSON)`;
  throw new AppError('PROMPT_TOO_LARGE', message, {
    details: [{ field: 'variables', message, reason: 'payload_size', limit: MAX_RUN_PAYLOAD_BYTES }],
  });
}
