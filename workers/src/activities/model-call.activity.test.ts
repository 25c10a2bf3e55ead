import type { ModelCallRequest } from '@promptmill/workflows';
import OpenAI from 'openai';
import { describe, expect, it } from 'vitest';
import { attemptSeq, buildCompletionParams } from './model-call.activity.ts';
import {
  MAX_RETRY_AFTER_MS,
  providerErrorDetail,
  retryAfterMs,
  toProviderFailure,
} from './provider-errors.ts';

const apiError = (status: number, headers: Record<string, string> = {}, message = 'boom') =>
  OpenAI.APIError.generate(status, { error: { message } }, undefined, new Headers(headers));

describe('toProviderFailure: which provider errors are retried', () => {
  it.each([429, 500, 502, 503, 504, 408])('HTTP %i is retryable PROVIDER_ERROR', (status) => {
    const f = toProviderFailure(apiError(status), 'gpt-4o');
    expect(f.type).toBe('PROVIDER_ERROR');
    expect(f.nonRetryable).toBe(false);
  });

  it.each([400, 401, 403, 404, 409, 413, 422])('HTTP %i is non-retryable PROVIDER_REJECTED', (status) => {
    const f = toProviderFailure(apiError(status, {}, 'bad max_tokens'), 'm');
    expect(f.type).toBe('PROVIDER_REJECTED');
    expect(f.nonRetryable).toBe(true);
    expect(f.message).toContain(`HTTP ${status}`);
  });

  it('timeouts and connection errors are retryable', () => {
    const timeout = toProviderFailure(new OpenAI.APIConnectionTimeoutError(), 'm');
    expect(timeout).toMatchObject({
      type: 'PROVIDER_ERROR',
      nonRetryable: false,
      message: "Model 'm' timed out",
    });
    const conn = toProviderFailure(new OpenAI.APIConnectionError({ message: 'ECONNREFUSED' }), 'm');
    expect(conn).toMatchObject({
      type: 'PROVIDER_ERROR',
      nonRetryable: false,
      message: "Model 'm' is unreachable: the connection to its provider failed",
    });
    const other = toProviderFailure(new Error('socket hang up'), 'm');
    expect(other).toMatchObject({
      type: 'PROVIDER_ERROR',
      nonRetryable: false,
      message: "Model 'm' call failed",
    });
  });

  it('a 429 or 503 with Retry-After sets the next retry delay; other statuses do not', () => {
    expect(toProviderFailure(apiError(429, { 'retry-after': '2' }), 'm').nextRetryDelay).toBe(2000);
    expect(toProviderFailure(apiError(503, { 'retry-after': '1' }), 'm').nextRetryDelay).toBe(1000);
    expect(toProviderFailure(apiError(500, { 'retry-after': '9' }), 'm').nextRetryDelay).toBeUndefined();
    expect(toProviderFailure(apiError(429), 'm').nextRetryDelay).toBeUndefined();
  });
});

describe('provider error texts never reach the failure message (they reach tenants)', () => {
  const SECRET = 'Incorrect API key provided: sk-proj-abc123SECRET. See https://internal.example:8443/v1';

  it.each([
    [500, "Model 'gpt-4o' failed: its provider answered HTTP 500"],
    [503, "Model 'gpt-4o' failed: its provider answered HTTP 503"],
    [408, "Model 'gpt-4o' failed: its provider answered HTTP 408"],
    [429, "Model 'gpt-4o' is rate limited by its provider (HTTP 429)"],
    [400, "Model 'gpt-4o' rejected the request (HTTP 400): check the version's model and params"],
    [422, "Model 'gpt-4o' rejected the request (HTTP 422): check the version's model and params"],
    [401, "Model 'gpt-4o' was refused: its provider did not accept the deployment's credentials (HTTP 401)"],
    [403, "Model 'gpt-4o' was refused: its provider did not accept the deployment's credentials (HTTP 403)"],
    [404, "Model 'gpt-4o' was not found at its provider (HTTP 404)"],
    [413, "Model 'gpt-4o' rejected the request as too large (HTTP 413)"],
    [409, "Model 'gpt-4o' rejected the request (HTTP 409)"],
  ])('HTTP %i: a fixed message', (status, message) => {
    const f = toProviderFailure(apiError(status, {}, SECRET), 'gpt-4o');
    expect(f.message).toBe(message);
  });

  it('connection and unknown errors: fixed messages, whatever the error says', () => {
    for (const err of [new OpenAI.APIConnectionError({ message: SECRET }), new Error(SECRET), SECRET]) {
      expect(toProviderFailure(err, 'm').message).not.toMatch(/sk-proj|internal\.example|Incorrect/);
    }
  });

  it('the detail (for the log and the attempt record) keeps the provider text and status', () => {
    expect(providerErrorDetail(apiError(401, {}, SECRET))).toContain(
      'HTTP 401: 401 Incorrect API key provided',
    );
    expect(providerErrorDetail(new Error('socket hang up', { cause: new Error('ECONNRESET') }))).toBe(
      'Error: socket hang up (cause: Error: ECONNRESET)',
    );
    expect(providerErrorDetail('plain')).toBe('plain');
  });
});

describe('retryAfterMs', () => {
  const h = (entries: Record<string, string>) => new Headers(entries);

  it('reads seconds, HTTP dates and OpenAI’s retry-after-ms (which wins)', () => {
    expect(retryAfterMs(h({ 'retry-after': '3' }))).toBe(3000);
    expect(retryAfterMs(h({ 'retry-after': '0.5' }))).toBe(500);
    const now = Date.parse('2026-01-01T00:00:00Z');
    expect(retryAfterMs(h({ 'retry-after': 'Thu, 01 Jan 2026 00:00:07 GMT' }), now)).toBe(7000);
    expect(retryAfterMs(h({ 'retry-after': '3', 'retry-after-ms': '250' }))).toBe(250);
  });

  it('caps long pauses at the retry maximum, floors negatives, ignores garbage', () => {
    expect(retryAfterMs(h({ 'retry-after': '3600' }))).toBe(MAX_RETRY_AFTER_MS);
    const now = Date.parse('2026-01-01T00:00:10Z');
    expect(retryAfterMs(h({ 'retry-after': 'Thu, 01 Jan 2026 00:00:07 GMT' }), now)).toBe(0);
    expect(retryAfterMs(h({ 'retry-after': 'soon' }))).toBeUndefined();
    expect(retryAfterMs(h({}))).toBeUndefined();
    expect(retryAfterMs(undefined)).toBeUndefined();
  });
});

describe('request building and attempt numbering', () => {
  const req: ModelCallRequest = {
    runId: 'run_1',
    orgId: 'org_1',
    keyId: null,
    promptId: 'pmt_1',
    promptVersion: 1,
    model: 'gpt-4o',
    modelIndex: 0,
    messages: [{ role: 'user', content: 'hi' }],
    params: {
      temperature: 0.2,
      maxTokens: 64,
      topP: 0.9,
      stop: ['\n'],
      presencePenalty: 1,
      frequencyPenalty: -1,
      seed: 7,
    },
    mode: 'sync',
  };

  it('maps camelCase params to the OpenAI names and leaves unset ones out', () => {
    expect(buildCompletionParams(req)).toEqual({
      model: 'gpt-4o',
      messages: [{ role: 'user', content: 'hi' }],
      temperature: 0.2,
      max_tokens: 64,
      top_p: 0.9,
      stop: ['\n'],
      presence_penalty: 1,
      frequency_penalty: -1,
      seed: 7,
    });
    expect(buildCompletionParams({ ...req, params: {} })).toEqual({
      model: 'gpt-4o',
      messages: req.messages,
    });
  });

  it('numbers attempts per model so fallbacks never collide', () => {
    expect(attemptSeq(0, 1)).toBe(1);
    expect(attemptSeq(0, 3)).toBe(3);
    expect(attemptSeq(1, 1)).toBe(1001);
    expect(attemptSeq(2, 4)).toBe(2004);
  });
});
