import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { ChatMessage } from './run.ts';
import {
  DEFAULT_MAX_COMPLETION_TOKENS,
  estimatePromptTokens,
  maxPromptTokens,
  runTokenReservation,
  utf8Length,
} from './tokens.ts';

const user = (content: string): ChatMessage => ({ role: 'user', content });

describe('utf8Length', () => {
  it.each([
    ['', 0],
    ['hello', 5],
    ['héllo', 6],
    ['日本語', 9],
    ['👋🏽', 8],
    ['\ud800', 3], // a lone surrogate is written as U+FFFD
    ['a\udc00b', 5],
  ])('%j is %i bytes', (text, bytes) => {
    expect(utf8Length(text)).toBe(bytes);
  });

  it('agrees with Buffer.byteLength on any string', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary' }), (s) => {
        expect(utf8Length(s)).toBe(Buffer.byteLength(s, 'utf8'));
      }),
      { numRuns: 500 },
    );
  });
});

describe('what a run reserves', () => {
  it('is the prompt bytes + 4 per message + 3, plus maxTokens or the default cap', () => {
    const messages = [{ role: 'system', content: 'Be brief.' } as const, user('héllo')];
    expect(maxPromptTokens(messages)).toBe(9 + 4 + 6 + 4 + 3);
    expect(runTokenReservation(messages, { maxTokens: 50 })).toBe(26 + 50);
    expect(runTokenReservation(messages, {})).toBe(26 + DEFAULT_MAX_COMPLETION_TOKENS);
    expect(runTokenReservation([], {})).toBe(3 + DEFAULT_MAX_COMPLETION_TOKENS);
  });

  it('never reserves less than the rough estimate, nor less than a word count (the mock provider’s tokens)', () => {
    fc.assert(
      fc.property(fc.array(fc.string(), { maxLength: 4 }), (contents) => {
        const messages = contents.map(user);
        const words = contents.reduce((n, c) => n + (c.match(/\S+/g)?.length ?? 0) + 3, 0);
        expect(maxPromptTokens(messages)).toBeGreaterThanOrEqual(estimatePromptTokens(messages));
        expect(maxPromptTokens(messages)).toBeGreaterThanOrEqual(words);
      }),
      { numRuns: 500 },
    );
  });
});
