import type { ErrorCode } from '@promptmill/workflows';
import { isGrpcServiceError, NamespaceNotFoundError, ServiceError, ValueError } from '@temporalio/client';

/**
 * Why a workflow start failed, as far as deciding what to do with the run goes. Temporal's client
 * retries transient gRPC failures itself; what reaches us is either the service being unavailable
 * (worth another attempt later: the dispatcher gives the claim back for a sweeper, a sync caller
 * gets 503 "try again") or a refusal that no retry can change (the run fails at once).
 */
export type StartFailure =
  | { retryable: true }
  | {
      retryable: false;
      /** PROMPT_TOO_LARGE for a payload the server will not take, INTERNAL_ERROR otherwise */
      code: Extract<ErrorCode, 'PROMPT_TOO_LARGE' | 'INTERNAL_ERROR'>;
      /** safe to show the tenant: fixed text, never the server's */
      message: string;
    };

/** gRPC status codes (grpc/status.proto) this classification names. */
const GRPC = {
  INVALID_ARGUMENT: 3,
  NOT_FOUND: 5,
  RESOURCE_EXHAUSTED: 8,
  FAILED_PRECONDITION: 9,
  OUT_OF_RANGE: 11,
  UNIMPLEMENTED: 12,
} as const;

/**
 * Statuses that mean "this request, as it is, will never be accepted". UNAVAILABLE, DEADLINE_EXCEEDED,
 * ABORTED, INTERNAL, UNKNOWN and RESOURCE_EXHAUSTED (rate limiting) are transient. So are
 * PERMISSION_DENIED and UNAUTHENTICATED, on purpose: they are the deployment's credentials, which
 * an operator fixes without the run changing, and RUN_DISPATCH_GIVE_UP_SECONDS bounds the wait.
 */
const REFUSED: Record<number, string> = {
  [GRPC.INVALID_ARGUMENT]: 'INVALID_ARGUMENT',
  [GRPC.NOT_FOUND]: 'NOT_FOUND',
  [GRPC.FAILED_PRECONDITION]: 'FAILED_PRECONDITION',
  [GRPC.OUT_OF_RANGE]: 'OUT_OF_RANGE',
  [GRPC.UNIMPLEMENTED]: 'UNIMPLEMENTED',
};

/** The server's blob size limit (INVALID_ARGUMENT) or gRPC's message size limit (RESOURCE_EXHAUSTED). */
const TOO_LARGE = /blob (data )?size|exceeds? (the )?(size )?limit|larger than max|message size/i;

const TOO_LARGE_MESSAGE =
  'The run could not be started: its input is larger than the workflow service accepts';
const refused = (why: string) => `The run could not be started: the workflow service refused it (${why})`;

function grpcErrorOf(err: unknown): { code: number; details: string } | undefined {
  const candidate = err instanceof ServiceError ? err.cause : err;
  if (!isGrpcServiceError(candidate)) return undefined;
  return { code: candidate.code, details: `${candidate.details ?? ''} ${candidate.message}` };
}

/** Classifies an error thrown by a workflow start (WorkflowExecutionAlreadyStarted is handled before). */
export function classifyStartError(err: unknown): StartFailure {
  if (err instanceof NamespaceNotFoundError) {
    return { retryable: false, code: 'INTERNAL_ERROR', message: refused('namespace not found') };
  }
  // the input could not be serialised: the same input never will be
  if (err instanceof ValueError) {
    return { retryable: false, code: 'INTERNAL_ERROR', message: refused('its input could not be encoded') };
  }
  const grpc = grpcErrorOf(err);
  if (!grpc) return { retryable: true };
  const isTooLarge =
    (grpc.code === GRPC.INVALID_ARGUMENT || grpc.code === GRPC.RESOURCE_EXHAUSTED) &&
    TOO_LARGE.test(grpc.details);
  if (isTooLarge) return { retryable: false, code: 'PROMPT_TOO_LARGE', message: TOO_LARGE_MESSAGE };
  const name = REFUSED[grpc.code];
  if (name === undefined) return { retryable: true };
  return { retryable: false, code: 'INTERNAL_ERROR', message: refused(name) };
}
