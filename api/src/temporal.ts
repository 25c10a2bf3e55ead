import { type TemporalEnv, temporalConnectionOptions } from '@promptmill/infra/config';
import type { WorkflowOf, WorkflowRef } from '@promptmill/workflows';
import {
  Client,
  Connection,
  type WorkflowHandle,
  type WorkflowHandleWithFirstExecutionRunId,
  type WorkflowStartOptions,
} from '@temporalio/client';

export interface TemporalHandle {
  client: Client;
  connection: Connection;
  taskQueue: string;
}

/** One Temporal client per process. */
export async function connectTemporal(env: TemporalEnv): Promise<TemporalHandle> {
  const connection = await Connection.connect(temporalConnectionOptions(env));
  const client = new Client({ connection, namespace: env.TEMPORAL_NAMESPACE });
  return { client, connection, taskQueue: env.TEMPORAL_TASK_QUEUE };
}

// The typed seam: workflows are started and read through their WorkflowRef, so a start's `args` and
// a handle's `result()` are typed from the workflow function itself (no names, no casts here).
// biome-ignore lint/suspicious/noExplicitAny: Temporal's own `Workflow` bound
type AnyRef = WorkflowRef<(...args: any[]) => Promise<unknown>>;

export function startWorkflow<R extends AnyRef>(
  temporal: TemporalHandle,
  ref: R,
  options: WorkflowStartOptions<WorkflowOf<R>>,
): Promise<WorkflowHandleWithFirstExecutionRunId<WorkflowOf<R>>> {
  return temporal.client.workflow.start<WorkflowOf<R>>(ref.type, options);
}

export function workflowHandle<R extends AnyRef>(
  temporal: TemporalHandle,
  _ref: R,
  workflowId: string,
): WorkflowHandle<WorkflowOf<R>> {
  return temporal.client.workflow.getHandle<WorkflowOf<R>>(workflowId);
}
