import { fileURLToPath } from 'node:url';
import type {
  AlertActivities,
  ChainActivities,
  RunActivities,
  WebhookActivities,
} from '@promptmill/workflows';
import { type NativeConnection, Worker, type WorkerOptions } from '@temporalio/worker';

export const WORKFLOWS_PATH = fileURLToPath(import.meta.resolve('@promptmill/workflows/workflows'));

export interface RunWorkerOptions {
  connection: NativeConnection;
  namespace: string;
  taskQueue: string;
  activities: RunActivities &
    Partial<AlertActivities> &
    Partial<ChainActivities> &
    Partial<WebhookActivities>;
  /** Prebuilt bundle (production); otherwise the workflow source is bundled now (dev, tests). */
  workflowBundlePath?: string | undefined;
  maxConcurrentActivities?: number;
}

export async function createRunWorker(opts: RunWorkerOptions): Promise<Worker> {
  const workflowSource: Pick<WorkerOptions, 'workflowBundle' | 'workflowsPath'> = opts.workflowBundlePath
    ? { workflowBundle: { codePath: opts.workflowBundlePath } }
    : { workflowsPath: WORKFLOWS_PATH };
  const concurrency = opts.maxConcurrentActivities ?? 200;
  return Worker.create({
    connection: opts.connection,
    namespace: opts.namespace,
    taskQueue: opts.taskQueue,
    activities: opts.activities,
    ...workflowSource,
    maxConcurrentActivityTaskExecutions: concurrency,
    maxConcurrentLocalActivityExecutions: concurrency,
    maxConcurrentWorkflowTaskExecutions: 100,
    // a crashed worker's runs move to another worker after this long
    stickyQueueScheduleToStartTimeout: '5 seconds',
    shutdownGraceTime: '20 seconds',
  });
}
