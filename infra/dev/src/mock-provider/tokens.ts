/**
 * Deterministic "token" accounting for the mock provider.
 *
 * The mock has no tokenizer: one token is one whitespace-separated word.
 *
 *   words(text)        = number of maximal runs of non-whitespace characters in `text`
 *   prompt_tokens      = Σ over messages of (words(message.content) + MESSAGE_OVERHEAD_TOKENS)
 *   completion_tokens  = words(output content)
 *   total_tokens       = prompt_tokens + completion_tokens
 *
 * MESSAGE_OVERHEAD_TOKENS is a fixed 3 per message (mirrors the role/separator overhead real
 * chat models charge), so a single user message "hello world" costs 2 + 3 = 5 prompt tokens.
 * Non-string content (arrays of parts) is flattened to text before counting, see `contentToText`.
 */

/** One part of an array-form message content (`{type:'text', text}`, `{type:'image_url', …}`, …). */
export interface ContentPart {
  type: string;
  text?: string | undefined;
}

/**
 * Flattens OpenAI message content to plain text: strings as-is, `null`/absent as '', arrays of
 * parts as the `text` of each text-bearing part joined with '\n' (images etc. contribute nothing).
 */
export function contentToText(content: string | readonly ContentPart[] | null | undefined): string {
  if (content == null) return '';
  if (typeof content === 'string') return content;
  const texts: string[] = [];
  for (const part of content) if (typeof part.text === 'string') texts.push(part.text);
  return texts.join('\n');
}

/** Fixed per-message overhead added to prompt_tokens. */
export const MESSAGE_OVERHEAD_TOKENS = 3;

export interface TokenUsage {
  prompt_tokens: number;
  completion_tokens: number;
  total_tokens: number;
}

/** Number of whitespace-separated words in `text`. */
export function countWords(text: string): number {
  const m = text.match(/\S+/g);
  return m ? m.length : 0;
}

/**
 * Splits text into stream chunks: each chunk is one word plus the whitespace that follows it
 * (leading whitespace, if any, is attached to the first chunk), so `splitWordChunks(t).join('') === t`.
 */
export function splitWordChunks(text: string): string[] {
  const chunks: string[] = text.match(/\S+\s*/g) ?? [];
  const lead = /^\s+/.exec(text)?.[0];
  if (lead !== undefined) {
    if (chunks.length > 0) chunks[0] = lead + chunks[0];
    else chunks.push(lead);
  }
  return chunks;
}

/**
 * Truncates `text` to at most `maxWords` words (whitespace after the last kept word is dropped).
 * Returns the text unchanged when it already fits or `maxWords` is undefined.
 */
export function truncateWords(
  text: string,
  maxWords: number | undefined,
): { text: string; truncated: boolean } {
  if (maxWords === undefined || countWords(text) <= maxWords) return { text, truncated: false };
  return { text: splitWordChunks(text).slice(0, maxWords).join('').trimEnd(), truncated: true };
}

/** prompt_tokens for a list of (already flattened) message contents. */
export function countPromptTokens(contents: readonly string[]): number {
  let total = 0;
  for (const c of contents) total += countWords(c) + MESSAGE_OVERHEAD_TOKENS;
  return total;
}

/** Full usage block for a request/response pair. */
export function computeUsage(promptContents: readonly string[], output: string): TokenUsage {
  const prompt_tokens = countPromptTokens(promptContents);
  const completion_tokens = countWords(output);
  return { prompt_tokens, completion_tokens, total_tokens: prompt_tokens + completion_tokens };
}
