import type { RunView } from '@promptmill/infra/db';
import { publicErrorCode } from '@promptmill/workflows';
import { describe, expect, it } from 'vitest';
import { isModelAllowed } from './prepare-run.ts';
import { isTerminal, toRunResource } from './run-resource.ts';
import { outcomeError } from './sync-run.ts';

describe('isModelAllowed', () => {
  it('null allows every model; entries are exact names or prefix*', () => {
    expect(isModelAllowed(null, 'anything')).toBe(true);
    expect(isModelAllowed([], 'gpt-4o')).toBe(false);
    expect(isModelAllowed(['gpt-4o'], 'gpt-4o')).toBe(true);
    expect(isModelAllowed(['gpt-4o'], 'gpt-4o-mini')).toBe(false);
    expect(isModelAllowed(['gpt-4o*'], 'gpt-4o-mini')).toBe(true);
    expect(isModelAllowed(['claude*', 'mock-1'], 'mock-1')).toBe(true);
  });
});

describe('error codes clients see', () => {
  it('provider rejections and broken streams are PROVIDER_ERROR; the rest pass through', () => {
    expect(publicErrorCode('PROVIDER_REJECTED')).toBe('PROVIDER_ERROR');
    expect(publicErrorCode('STREAM_BROKEN')).toBe('PROVIDER_ERROR');
    expect(publicErrorCode('RUN_CANCELED')).toBe('RUN_CANCELED');
  });

  it('a failed outcome becomes the mapped AppError with the run id; a canceled one 409', () => {
    const base = {
      runId: 'run_1',
      output: null,
      model: 'm',
      usage: { promptTokens: 0, completionTokens: 0, totalTokens: 0, cost: 0 },
      attempts: 1,
      durationMs: 5,
    };
    const rejected = outcomeError({
      ...base,
      status: 'failed',
      error: { code: 'PROVIDER_REJECTED', message: 'HTTP 400: bad' },
    });
    expect(rejected).toMatchObject({
      code: 'PROVIDER_ERROR',
      status: 502,
      message: 'HTTP 400: bad',
      extra: { runId: 'run_1' },
    });
    const canceled = outcomeError({
      ...base,
      status: 'canceled',
      error: { code: 'RUN_CANCELED', message: 'Run was canceled' },
    });
    expect(canceled).toMatchObject({ code: 'RUN_CANCELED', status: 409 });
  });
});

describe('toRunResource', () => {
  const row: RunView = {
    id: 'run_1',
    orgId: 'org_1',
    keyId: 'key_1',
    promptId: 'pmt_1',
    promptName: 'welcome',
    versionId: 'ver_1',
    promptVersion: 3,
    mode: 'async',
    status: 'failed',
    variables: { name: 'Ada' },
    metadata: { order: 7 },
    webhookUrl: null,
    chainRunId: null,
    model: 'mock-fast',
    output: null,
    errorCode: 'PROVIDER_REJECTED',
    errorMessage: "Model 'mock-fast' failed with HTTP 400",
    promptTokens: 12,
    completionTokens: 5,
    cost: 0.000017,
    attempts: 4,
    cacheHit: false,
    idempotencyKey: 'k',
    requestHash: 'h',
    createdAt: new Date('2026-01-01T00:00:00.000Z'),
    startedAt: new Date('2026-01-01T00:00:00.120Z'),
    finishedAt: new Date('2026-01-01T00:00:01.500Z'),
  };

  it('is the documented shape: prompt, usage totals, public error code, timings, links', () => {
    expect(toRunResource(row)).toEqual({
      id: 'run_1',
      status: 'failed',
      mode: 'async',
      prompt: { id: 'pmt_1', name: 'welcome' },
      version: 3,
      model: 'mock-fast',
      output: null,
      error: { code: 'PROVIDER_ERROR', message: "Model 'mock-fast' failed with HTTP 400" },
      usage: { promptTokens: 12, completionTokens: 5, totalTokens: 17, cost: 0.000017 },
      attempts: 4,
      cacheHit: false,
      metadata: { order: 7 },
      variables: { name: 'Ada' },
      webhookUrl: null,
      chainRunId: null,
      timings: {
        createdAt: '2026-01-01T00:00:00.000Z',
        startedAt: '2026-01-01T00:00:00.120Z',
        finishedAt: '2026-01-01T00:00:01.500Z',
        durationMs: 1500,
      },
      links: { self: '/v1/runs/run_1', cancel: '/v1/runs/run_1/cancel' },
    });
  });

  it('a run still going has no error, no finish time and no duration; never leaks the idempotency data', () => {
    const running = toRunResource({
      ...row,
      status: 'running',
      errorCode: null,
      errorMessage: null,
      finishedAt: null,
    });
    expect(running.error).toBeNull();
    expect(running.timings).toMatchObject({ finishedAt: null, durationMs: null });
    expect(JSON.stringify(running)).not.toContain('requestHash');
    expect(isTerminal('running')).toBe(false);
    expect(isTerminal('canceled')).toBe(true);
  });
});
