export { Promptmill } from './client.ts';
export * from './errors.ts';
export {
  backoffDelay,
  type ClientOptions,
  type FetchLike,
  type RequestOptions,
  retryDelayFromHeaders,
} from './http.ts';
export type { StartedWorkflowRun } from './resources/platform.ts';
export type { RunOptions, StartedRun, StartOptions, WaitOptions } from './resources/runs.ts';
export { COVERED_PATH_PREFIXES, ROUTES, type RouteName } from './routes.ts';
export { parseServerSentEvents, RunStream, type ServerSentEvent } from './stream.ts';
export type * from './types.ts';
export { type VerifyWebhookOptions, verifyWebhook, type WebhookHeaders } from './webhooks.ts';
