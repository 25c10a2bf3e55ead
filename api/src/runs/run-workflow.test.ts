import { ServiceError, WorkflowNotFoundError } from '@temporalio/client';
import { describe, expect, it } from 'vitest';
import { RunStartRefusedError } from './dispatch/index.ts';
import { isDefiniteRefusal } from './run-workflow.ts';

/** What @temporalio/client throws for a call that ended with gRPC status `code`. */
const grpcFailure = (code: number) =>
  new ServiceError('Failed to start Workflow', {
    cause: Object.assign(new Error(`${code} failure`), { code, details: 'failure', metadata: {} }),
  });

describe('isDefiniteRefusal: which start failures certainly started nothing', () => {
  it.each([
    [3, 'INVALID_ARGUMENT'],
    [7, 'PERMISSION_DENIED'],
    [8, 'RESOURCE_EXHAUSTED'],
    [9, 'FAILED_PRECONDITION'],
    [16, 'UNAUTHENTICATED'],
  ])('gRPC %i (%s) is a refusal', (code) => {
    expect(isDefiniteRefusal(grpcFailure(code))).toBe(true);
  });

  it.each([
    [1, 'CANCELLED'],
    [2, 'UNKNOWN'],
    [4, 'DEADLINE_EXCEEDED'],
    [13, 'INTERNAL'],
    [14, 'UNAVAILABLE'],
  ])('gRPC %i (%s) may have started the workflow', (code) => {
    expect(isDefiniteRefusal(grpcFailure(code))).toBe(false);
  });

  it('a refusal for good (start-errors.ts) is a definite refusal', () => {
    const cause = grpcFailure(3);
    expect(isDefiniteRefusal(new RunStartRefusedError('INTERNAL_ERROR', 'refused', { cause }))).toBe(true);
  });

  it('a missing namespace is a refusal; an error without a status is not', () => {
    expect(isDefiniteRefusal(new WorkflowNotFoundError('namespace not found', 'run_x', undefined))).toBe(
      true,
    );
    expect(isDefiniteRefusal(new Error('socket hang up'))).toBe(false);
    expect(isDefiniteRefusal('weird')).toBe(false);
  });
});
