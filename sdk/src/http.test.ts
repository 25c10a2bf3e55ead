import { describe, expect, it } from 'vitest';
import { errorFromResponse, NotFoundError, RateLimitError } from './errors.ts';
import { backoffDelay, retryDelayFromHeaders } from './http.ts';
import { parseServerSentEvents } from './stream.ts';

describe('retry delays', () => {
  it('prefers Retry-After (seconds or an HTTP date), then X-RateLimit-Reset when nothing remains', () => {
    const now = Date.parse('2026-11-29T12:00:00Z');
    expect(retryDelayFromHeaders(new Headers({ 'retry-after': '7' }), now)).toBe(7000);
    expect(retryDelayFromHeaders(new Headers({ 'retry-after': 'Sun, 29 Nov 2026 12:00:03 GMT' }), now)).toBe(
      3000,
    );
    const reset = new Headers({ 'x-ratelimit-reset': String(now / 1000 + 12), 'x-ratelimit-remaining': '0' });
    expect(retryDelayFromHeaders(reset, now)).toBe(12_000);
    const notSpent = new Headers({
      'x-ratelimit-reset': String(now / 1000 + 12),
      'x-ratelimit-remaining': '5',
    });
    expect(retryDelayFromHeaders(notSpent, now)).toBeUndefined();
  });

  it('backs off exponentially with jitter in [d/2, d], capped', () => {
    expect(backoffDelay(0, 500, 8000, () => 0)).toBe(250);
    expect(backoffDelay(0, 500, 8000, () => 1)).toBe(500);
    expect(backoffDelay(3, 500, 8000, () => 1)).toBe(4000);
    expect(backoffDelay(10, 500, 8000, () => 1)).toBe(8000);
    const samples = Array.from({ length: 200 }, () => backoffDelay(2, 500, 8000));
    expect(Math.min(...samples)).toBeGreaterThanOrEqual(1000);
    expect(Math.max(...samples)).toBeLessThanOrEqual(2000);
    expect(new Set(samples).size).toBeGreaterThan(100);
  });
});

describe('errorFromResponse', () => {
  it('reads the API, seed and OAuth2 error shapes', () => {
    const h = new Headers({ 'x-request-id': 'req_1' });
    const api = errorFromResponse(
      404,
      h,
      { error: { code: 'PROMPT_NOT_FOUND', message: 'nope' } },
      undefined,
    );
    expect(api).toBeInstanceOf(NotFoundError);
    expect(api).toMatchObject({ status: 404, code: 'PROMPT_NOT_FOUND', requestId: 'req_1' });
    const seed = errorFromResponse(429, h, { success: false, error: 'slow down', code: 'RATE_LIMITED' }, 3);
    expect(seed).toBeInstanceOf(RateLimitError);
    expect(seed).toMatchObject({ code: 'RATE_LIMITED', retryAfter: 3, message: 'RATE_LIMITED: slow down' });
    const oauth = errorFromResponse(
      401,
      h,
      { error: 'invalid_client', error_description: 'bad secret' },
      undefined,
    );
    expect(oauth).toMatchObject({ code: 'INVALID_CLIENT', message: 'INVALID_CLIENT: bad secret' });
    const timeout = errorFromResponse(
      504,
      h,
      { success: false, error: 'slow', code: 'RUN_TIMEOUT', runId: 'run_9' },
      undefined,
    );
    expect(timeout.runId).toBe('run_9');
  });
});

describe('parseServerSentEvents', () => {
  it('splits events across chunk boundaries, skips comments and joins data lines', async () => {
    const text =
      ': keep-alive\n\nevent: delta\ndata: {"delta":"He"}\n\nevent: delta\r\ndata: {"delta":"llo"}\r\n\r\nevent: done\ndata: a\ndata: b\n\n';
    const bytes = new TextEncoder().encode(text);
    const body = new ReadableStream<Uint8Array>({
      start(c) {
        for (let i = 0; i < bytes.length; i += 5) c.enqueue(bytes.slice(i, i + 5));
        c.close();
      },
    });
    const events = [];
    for await (const e of parseServerSentEvents(body)) events.push(e);
    expect(events).toEqual([
      { event: 'delta', data: '{"delta":"He"}' },
      { event: 'delta', data: '{"delta":"llo"}' },
      { event: 'done', data: 'a\nb' },
    ]);
  });
});
