import type { ChatMessage, ModelParams } from './run.ts';

// Token counts known before (or without) the provider's own count: the estimate a broken stream or
// an interrupted call is billed at (worker), and the reservation a run makes against its
// organization's monthly budget before it starts (api).

/**
 * Rough prompt-token count (~4 characters per token plus 3 per message): what a call is billed at
 * when the provider's usage never came (a stream that broke before its usage chunk, which comes
 * last; a call its worker died in). The provider bills the prompt all the same.
 */
export function estimatePromptTokens(messages: readonly ChatMessage[]): number {
  return messages.reduce((sum, m) => sum + Math.ceil(m.content.length / 4) + 3, 0);
}

/** UTF-8 length of a string, without encoding it. */
export function utf8Length(text: string): number {
  let bytes = 0;
  for (let i = 0; i < text.length; i++) {
    const unit = text.charCodeAt(i);
    if (unit < 0x80) bytes += 1;
    else if (unit < 0x800) bytes += 2;
    else if (unit >= 0xd800 && unit < 0xdc00 && i + 1 < text.length) {
      const next = text.charCodeAt(i + 1);
      if (next >= 0xdc00 && next < 0xe000) {
        bytes += 4; // a surrogate pair: one code point beyond the BMP
        i++;
      } else bytes += 3;
    } else bytes += 3;
  }
  return bytes;
}

/** Per message: role and separators (OpenAI's chat format takes 3–4). */
export const MESSAGE_OVERHEAD_TOKENS = 4;
/** Per request: the tokens that prime the reply. */
export const REPLY_PRIMING_TOKENS = 3;

/**
 * An upper bound of a prompt's tokens: its UTF-8 bytes (a byte-level BPE token — GPT, Llama 3, and
 * most others — is at least one byte) plus the chat format's overhead.
 */
export function maxPromptTokens(messages: readonly ChatMessage[]): number {
  return messages.reduce(
    (sum, m) => sum + utf8Length(m.content) + MESSAGE_OVERHEAD_TOKENS,
    REPLY_PRIMING_TOKENS,
  );
}

/** A version without `maxTokens` reserves this many completion tokens per run. */
export const DEFAULT_MAX_COMPLETION_TOKENS = 4_096;

/**
 * What a run reserves against the monthly budget: the most one provider call of it can be billed —
 * its prompt's upper bound plus its completion cap (`maxTokens`, else the default). One call is
 * enough because only one call of a run records tokens: the one that answers; a failed call that
 * got no answer records none, and a stream that broke or was canceled records what it streamed but
 * is neither retried nor followed by a fallback. Worker crashes are the exception (README, Budgets).
 */
export function runTokenReservation(messages: readonly ChatMessage[], params: ModelParams): number {
  return maxPromptTokens(messages) + (params.maxTokens ?? DEFAULT_MAX_COMPLETION_TOKENS);
}
