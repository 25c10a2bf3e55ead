import { type TemporalEnv, temporalConnectionOptions } from '@promptmill/infra/config';
import { Client, Connection } from '@temporalio/client';

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
