import { NamespaceNotFoundError, ServiceError, ValueError } from '@temporalio/client';
import { describe, expect, it } from 'vitest';
import { classifyStartError } from './start-errors.ts';

/** What the Temporal client throws for a refused start: a ServiceError around the gRPC error. */
function grpcError(code: number, details: string): ServiceError {
  const cause = Object.assign(new Error(`${code} ${details}`), { code, details, metadata: {} });
  return new ServiceError('Failed to start Workflow', { cause });
}

describe('classifyStartError: only what a retry can fix is retried', () => {
  it.each([
    [14, 'UNAVAILABLE', 'No connection established'],
    [4, 'DEADLINE_EXCEEDED', 'Deadline exceeded'],
    [8, 'RESOURCE_EXHAUSTED', 'namespace rate limit exceeded'],
    [10, 'ABORTED', 'aborted'],
    [13, 'INTERNAL', 'persistence error'],
    [2, 'UNKNOWN', 'something'],
    [7, 'PERMISSION_DENIED', 'Request unauthorized'],
    [16, 'UNAUTHENTICATED', 'token expired'],
  ])('gRPC %i (%s) is retryable', (code, _name, details) => {
    expect(classifyStartError(grpcError(code, details))).toEqual({ retryable: true });
  });

  it('errors that are not gRPC errors (a closed connection, a bug) are retried: the old behaviour', () => {
    expect(classifyStartError(new Error('Connection closed'))).toEqual({ retryable: true });
    expect(classifyStartError('weird')).toEqual({ retryable: true });
  });

  it('a payload over the server blob limit, or over gRPC’s message limit, is PROMPT_TOO_LARGE', () => {
    const tooLarge = {
      retryable: false,
      code: 'PROMPT_TOO_LARGE',
      message: 'The run could not be started: its input is larger than the workflow service accepts',
    };
    expect(classifyStartError(grpcError(3, 'Blob data size exceeds limit.'))).toEqual(tooLarge);
    expect(
      classifyStartError(grpcError(8, 'Received message larger than max (5242880 vs. 4194304)')),
    ).toEqual(tooLarge);
  });

  it.each([
    [3, 'INVALID_ARGUMENT'],
    [5, 'NOT_FOUND'],
    [9, 'FAILED_PRECONDITION'],
    [11, 'OUT_OF_RANGE'],
    [12, 'UNIMPLEMENTED'],
  ])('gRPC %i (%s) fails the run at once, naming the status and nothing of the server text', (code, name) => {
    const failure = classifyStartError(grpcError(code, 'secret-internal-host:7233 said no'));
    expect(failure).toEqual({
      retryable: false,
      code: 'INTERNAL_ERROR',
      message: `The run could not be started: the workflow service refused it (${name})`,
    });
  });

  it('an unknown namespace and an input that cannot be encoded fail at once', () => {
    expect(classifyStartError(new NamespaceNotFoundError('nope'))).toMatchObject({
      retryable: false,
      code: 'INTERNAL_ERROR',
      message: 'The run could not be started: the workflow service refused it (namespace not found)',
    });
    expect(classifyStartError(new ValueError('Unable to convert'))).toMatchObject({
      retryable: false,
      code: 'INTERNAL_ERROR',
    });
  });
});
