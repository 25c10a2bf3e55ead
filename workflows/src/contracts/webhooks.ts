// Webhook contracts shared by the api (endpoints, test, retry), the worker (dispatch, delivery) and
// the delivery workflow.

/** Events an endpoint may subscribe to (API.md, Webhooks); `webhook.test` goes only to its endpoint. */
export const WEBHOOK_EVENTS = [
  'prompt.executed',
  'prompt.failed',
  'workflow.completed',
  'workflow.failed',
  'team.member_added',
  'team.member_removed',
  'usage.alert',
  'webhook.endpoint_disabled',
] as const;
export type WebhookEvent = (typeof WEBHOOK_EVENTS)[number];
export const WEBHOOK_TEST_EVENT = 'webhook.test';

/** Waits before each retry: 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h (8 attempts in all). */
export const DEFAULT_WEBHOOK_RETRY_DELAYS_MS = [
  5_000, 300_000, 1_800_000, 7_200_000, 18_000_000, 36_000_000, 36_000_000,
];

export interface DeliverWebhookInput {
  /** msg_…: the workflow id too (manual retries add `-retry-N`) */
  messageId: string;
  /** a manual retry: one attempt, no schedule */
  once?: boolean | undefined;
  /** overrides the worker's schedule (WEBHOOK_RETRY_DELAYS) for this message */
  retryDelaysMs?: number[] | undefined;
}

export interface WebhookAttemptRequest {
  messageId: string;
  /** 0 for the first attempt of this workflow */
  index: number;
  once: boolean;
  retryDelaysMs?: number[] | undefined;
}

export interface WebhookAttemptResult {
  /** delivered: a 2xx; retry: wait `retryInMs` and try again; final: no attempt follows */
  outcome: 'delivered' | 'retry' | 'final';
  retryInMs: number | null;
  responseStatus: number | null;
}

/** The activities the delivery workflow schedules (workers/src/webhooks). */
export interface WebhookActivities {
  attemptWebhookDelivery(req: WebhookAttemptRequest): Promise<WebhookAttemptResult>;
}

/** The wait after a failed attempt `index` (0-based) of a schedule; null = no attempt follows. */
export function retryDelayAfter(delays: readonly number[], index: number, once: boolean): number | null {
  return once ? null : (delays[index] ?? null);
}
