/**
 * The one request every system under test gets: the same chat message to model `mock-1` on the
 * project's mock provider. An upstream delay is asked for in band (`[[mock:delay=MS]]` in the
 * message), so the same mock serves every cell of every system without per-cell rules.
 */

import type { RequestSpec } from '../compare/loadgen.ts';
import type { ProcessGroup } from '../compare/procstat.ts';

export const MODEL = 'mock-1';
/** the mock echoes the message: a successful answer contains this */
export const EXPECT_TEXT = 'quick brown fox';

export function messageText(delayMs: number): string {
  const text = 'Summarize for Ada: the quick brown fox jumps over the lazy dog.';
  return delayMs > 0 ? `${text} [[mock:delay=${delayMs}]]` : text;
}

export interface CallShape {
  delayMs: number;
  stream: boolean;
}

/** A system the comparison measures: how to call it, and which processes are its own. */
export interface SystemUnderTest {
  /** short id used in tables, e.g. `portkey` */
  id: string;
  /** display name with version */
  label: string;
  request(shape: CallShape): RequestSpec;
  /** its processes (empty for the upstream called directly) */
  processes: ProcessGroup[];
  stop(): Promise<void>;
}

/** POST {base}/chat/completions, OpenAI format. */
export function chatCompletion(
  baseUrl: string,
  headers: Record<string, string>,
  shape: CallShape,
): RequestSpec {
  return {
    method: 'POST',
    url: `${baseUrl}/chat/completions`,
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify({
      model: MODEL,
      messages: [{ role: 'user', content: messageText(shape.delayMs) }],
      ...(shape.stream ? { stream: true } : {}),
    }),
    kind: shape.stream ? 'openai-sse' : 'json',
    expectText: EXPECT_TEXT,
  };
}

/** The mock provider called directly: the baseline every "added" figure is measured against. */
export function directUpstream(mockUrl: string): SystemUnderTest {
  return {
    id: 'direct',
    label: 'mock upstream, direct',
    request: (shape) => chatCompletion(mockUrl, {}, shape),
    processes: [],
    stop: async () => {},
  };
}
