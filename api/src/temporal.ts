import { type TemporalEnv, temporalConnectionOptions } from '@promptmill/infra/config';
import type { WorkflowOf, WorkflowRef } from '@promptmill/workflows';
import {
  Client,
  Connection,
  type ConnectionLike,
  type WorkflowHandle,
  type WorkflowHandleWithFirstExecutionRunId,
  type WorkflowStartOptions,
} from '@temporalio/client';

export interface TemporalHandle {
  client: Client;
  connection: Connection;
  taskQueue: string;
  /**
   * With a worker in this process (API_EMBEDDED_WORKER): a Client on that worker's connection, which
   * starts workflows eagerly on it. Only for starts: a native connection does not honour abort
   * signals, which the waits for results rely on.
   */
  eagerClient?: Client | undefined;
}

/**
 * One Temporal client per process (and, with an embedded worker, one more on its connection for
 * eager starts).
 */
export async function connectTemporal(
  env: TemporalEnv,
  workerConnection?: ConnectionLike,
): Promise<TemporalHandle> {
  const connection = await Connection.connect(temporalConnectionOptions(env));
  const client = new Client({ connection, namespace: env.TEMPORAL_NAMESPACE });
  const eagerClient = workerConnection
    ? new Client({ connection: workerConnection, namespace: env.TEMPORAL_NAMESPACE })
    : undefined;
  return { client, connection, taskQueue: env.TEMPORAL_TASK_QUEUE, eagerClient };
}

// The typed seam: workflows are started and read through their WorkflowRef, so a start's `args` and
// a handle's `result()` are typed from the workflow function itself (no names, no casts here).
// biome-ignore lint/suspicious/noExplicitAny: Temporal's own `Workflow` bound
type AnyRef = WorkflowRef<(...args: any[]) => Promise<unknown>>;

/**
 * Starts a workflow. `eager`: on this process's own worker when it has one (the first workflow task
 * comes back with the start's answer); elsewhere, or when that worker has no free slot, it is an
 * ordinary start.
 */
export function startWorkflow<R extends AnyRef>(
  temporal: TemporalHandle,
  ref: R,
  options: WorkflowStartOptions<WorkflowOf<R>>,
  opts: { eager?: boolean } = {},
): Promise<WorkflowHandleWithFirstExecutionRunId<WorkflowOf<R>>> {
  if (opts.eager && temporal.eagerClient) {
    return temporal.eagerClient.workflow.start<WorkflowOf<R>>(ref.type, {
      ...options,
      requestEagerStart: true,
    });
  }
  return temporal.client.workflow.start<WorkflowOf<R>>(ref.type, options);
}

export function workflowHandle<R extends AnyRef>(
  temporal: TemporalHandle,
  _ref: R,
  workflowId: string,
): WorkflowHandle<WorkflowOf<R>> {
  return temporal.client.workflow.getHandle<WorkflowOf<R>>(workflowId);
}
