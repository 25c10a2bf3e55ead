// The API's resources as the SDK returns them. One file over ~350 lines on purpose: it is one list of
// declarations read top to bottom, and split, each resource's types would sit apart from the ones they
// share. The shapes of prompts, versions, runs, keys, members and /v1/me are held against the api's own
// zod schemas by test/sdk/types-drift.ts (a compile-time check in `npm test`), so they cannot drift.

export interface Page<T> {
  data: T[];
  meta: { page: number; per_page: number; total: number };
}

export interface PageQuery {
  page?: number;
  perPage?: number;
}

export type Scope =
  | 'prompts:read'
  | 'prompts:write'
  | 'runs:execute'
  | 'runs:read'
  | 'workflows:write'
  | 'webhooks:write'
  | 'keys:write'
  | 'analytics:read'
  | 'admin';

export interface ChatMessage {
  role: 'system' | 'user' | 'assistant';
  content: string;
}

export interface ModelParams {
  temperature?: number | undefined;
  maxTokens?: number | undefined;
  topP?: number | undefined;
  stop?: string | string[] | undefined;
  presencePenalty?: number | undefined;
  frequencyPenalty?: number | undefined;
  seed?: number | undefined;
}

export interface VariableSpec {
  name: string;
  required: boolean;
  default?: string | undefined;
  description?: string | undefined;
}

export interface Prompt {
  id: string;
  name: string;
  description: string;
  tags: string[];
  latestVersion: number;
  labels: Record<string, number>;
  createdAt: string;
  updatedAt: string;
}

export interface CreatePromptParams {
  name: string;
  description?: string;
  tags?: string[];
}

export interface UpdatePromptParams {
  name?: string;
  description?: string;
  tags?: string[];
}

export interface PromptVersion {
  id: string;
  promptId: string;
  version: number;
  type: 'text' | 'chat';
  template: string | null;
  messages: ChatMessage[] | null;
  model: string;
  params: ModelParams;
  fallbackModels: string[];
  variables: VariableSpec[];
  cacheTtlSeconds: number | null;
  commitMessage: string | null;
  labels: string[];
  createdAt: string;
}

export interface CreateVersionParams {
  /** a text prompt; or give `messages` */
  template?: string;
  messages?: ChatMessage[];
  model: string;
  params?: ModelParams;
  fallbackModels?: string[];
  variables?: Array<{ name: string; required?: boolean; default?: string; description?: string }>;
  cacheTtlSeconds?: number | null;
  commitMessage?: string | null;
  /** labels to point at the new version, e.g. `['production']` */
  labels?: string[];
}

export interface PromptLabel {
  label: string;
  version: number;
  versionId: string;
  updatedAt: string;
}

export interface RenderParams {
  version?: number;
  label?: string;
  variables?: Record<string, unknown>;
}

export interface RenderedPrompt {
  promptId: string;
  version: number;
  versionId: string;
  model: string;
  fallbackModels: string[];
  params: ModelParams;
  content?: string | undefined;
  messages?: ChatMessage[] | undefined;
}

export type TemplateCategory = 'writing' | 'language' | 'analysis' | 'extraction' | 'support' | 'engineering';

export interface Template {
  id: string;
  name: string;
  description: string;
  category: TemplateCategory;
  messages: ChatMessage[];
  variables: VariableSpec[];
  suggestedModel: string;
  params: ModelParams;
  example: Record<string, unknown>;
}

export interface UseTemplateParams {
  /** default: the template's name */
  name?: string;
  model?: string;
  description?: string;
  tags?: string[];
}

export interface Usage {
  promptTokens: number;
  completionTokens: number;
  totalTokens: number;
  cost: number;
}

/** The answer of a sync run (`POST /api/v1/run`). */
export interface SyncRunResult {
  success: true;
  output: string;
  promptVersion: number;
  durationMs: number;
  model: string;
  runId: string;
  usage: Usage;
}

/** The `done` event of a streaming run. */
export interface StreamResult {
  runId: string;
  output: string;
  model: string;
  promptVersion: number;
  durationMs: number;
  usage: Usage;
}

export type RunStatus = 'queued' | 'running' | 'succeeded' | 'failed' | 'canceled';

export interface Run {
  id: string;
  status: RunStatus;
  /** how it was asked for, or `direct`: a sync or streaming run the api process ran itself (SYNC_RUN_MODE=direct) */
  mode: 'sync' | 'stream' | 'async' | 'direct';
  prompt: { id: string; name: string };
  version: number;
  model: string;
  output: string | null;
  error: { code: string; message: string } | null;
  usage: Usage;
  attempts: number;
  cacheHit: boolean;
  metadata: Record<string, unknown> | null;
  variables: Record<string, unknown>;
  webhookUrl: string | null;
  /** the chain run (`wfr_…`) this run is a step of; null for other runs */
  chainRunId: string | null;
  timings: {
    createdAt: string;
    startedAt: string | null;
    finishedAt: string | null;
    durationMs: number | null;
  };
  links: { self: string; cancel: string };
}

export interface StartRunParams {
  /** prompt id (`pmt_…`) or name */
  prompt: string;
  version?: number;
  label?: string;
  variables?: Record<string, unknown>;
  metadata?: Record<string, unknown> | null;
  webhookUrl?: string | null;
}

export interface ListRunsQuery extends PageQuery {
  status?: RunStatus;
  prompt?: string;
  /** only the step runs of this chain run (`wfr_…`) */
  chainRun?: string;
  from?: string | Date;
  to?: string | Date;
}

export interface RateLimits {
  perMinute?: number | undefined;
  perHour?: number | undefined;
  perDay?: number | undefined;
}

/** Limits as sent: the short names, or the seeds' names (`requestsPerMinute`…), one of each pair. */
export interface RateLimitsParams extends RateLimits {
  requestsPerMinute?: number | undefined;
  requestsPerHour?: number | undefined;
  requestsPerDay?: number | undefined;
}

export type KeyStatus = 'active' | 'expired' | 'revoked' | 'rate_limited';

export interface ApiKey {
  id: string;
  name: string;
  summary: string;
  scopes: string[];
  promptIds: string[] | null;
  rateLimits: RateLimits;
  allowedOrigins: string[] | null;
  ownerId: string;
  status: KeyStatus;
  createdAt: string;
  lastUsedAt: string | null;
  usageCount: number;
  expiresAt: string | null;
  revokedAt: string | null;
  previousKeyExpiresAt: string | null;
}

/** A key as created or rotated: `key` is the only copy of its secret. */
export interface CreatedApiKey extends ApiKey {
  key: string;
}

export interface CreateKeyParams {
  name: string;
  scopes?: Scope[];
  promptIds?: string[] | null;
  /** `never`, `30d`, `90d` or an ISO-8601 date */
  expiresIn?: string;
  rateLimits?: RateLimitsParams;
  allowedOrigins?: string[] | null;
  ownerId?: string;
}

export type UpdateKeyParams = Partial<Omit<CreateKeyParams, 'ownerId'>>;

export interface Member {
  id: string;
  email: string;
  name: string | null;
  role: 'owner' | 'admin' | 'member';
  status: 'active' | 'suspended';
  suspendedAt: string | null;
  createdAt: string;
}

export interface AddMemberParams {
  email: string;
  name?: string;
  role?: 'admin' | 'member';
}

export interface Me {
  auth: 'api_key' | 'oauth';
  key: ApiKey;
  organization: {
    id: string;
    name: string;
    plan: 'free' | 'pro' | 'team' | 'enterprise';
    billingStatus: 'active' | 'past_due' | 'disputed' | 'canceled';
    metricsTag: string;
  };
  limits: {
    plan: { requestsPerMinute: number; requestsPerDay: number };
    key: RateLimits;
    effective: {
      requestsPerMinute: number | null;
      requestsPerHour: number | null;
      requestsPerDay: number | null;
    };
    tokenBudget: number | null;
  };
  usage: {
    period: { start: string; end: string };
    tokensUsed: number;
    tokensRemaining: number | null;
    windows: Array<{
      scope: 'key' | 'org';
      period: 'minute' | 'hour' | 'day';
      limit: number;
      used: number;
      remaining: number;
      resetAt: string;
    }>;
  };
}

// Chains, webhooks, usage and alerts (API.md). Fields beyond those API.md names pass through as is.

/** A step of a chain as sent: `variables` values are literals or text with `{{input.x}}`, `{{steps.<id>.output}}`, `{{steps.<id>.json.<path>}}`. */
export interface WorkflowStepParams {
  id: string;
  /** prompt id (`pmt_…`) or name */
  prompt: string;
  version?: number | undefined;
  label?: string | undefined;
  variables?: Record<string, unknown> | undefined;
  dependsOn?: string[] | undefined;
  /** `fail` (default): the chain fails; `continue`: it goes on */
  onError?: 'fail' | 'continue' | undefined;
  /** overrides the version's model */
  model?: string | undefined;
}

export type WorkflowOutput = { step: string } | { template: string };

export interface WorkflowParams {
  name: string;
  description?: string | undefined;
  /** the input contract: variables with required/default */
  input?: Array<{ name: string; required?: boolean; default?: string; description?: string }> | undefined;
  steps: WorkflowStepParams[];
  /** default: the last step's output */
  output?: WorkflowOutput | undefined;
}

export interface WorkflowStep {
  id: string;
  prompt: string;
  version?: number | undefined;
  label?: string | undefined;
  variables: Record<string, unknown>;
  dependsOn: string[];
  onError: 'fail' | 'continue';
  model?: string | undefined;
}

/** A chain (`/v1/workflows`): every PUT makes a new immutable revision. */
export interface Workflow {
  id: string;
  name: string;
  description: string;
  revision: number;
  input: Array<{ name: string; required: boolean; default?: string | undefined }>;
  steps: WorkflowStep[];
  output: WorkflowOutput | null;
  createdAt: string;
  updatedAt: string;
  links: { self: string; runs: string };
}

export interface StartWorkflowRunParams {
  input?: Record<string, unknown>;
  metadata?: Record<string, unknown> | null;
  webhookUrl?: string | null;
}

export type WorkflowStepStatus = 'pending' | 'running' | 'succeeded' | 'failed' | 'canceled' | 'skipped';

export interface WorkflowRun {
  id: string;
  workflow: { id: string; name: string; revision: number };
  status: RunStatus;
  input: Record<string, unknown>;
  output: string | null;
  error: { code: string; message: string } | null;
  metadata: Record<string, unknown> | null;
  webhookUrl: string | null;
  usage: Usage;
  attempts: number;
  steps: Array<{
    id: string;
    status: WorkflowStepStatus;
    runId: string | null;
    prompt: { id: string; name: string; version: number };
    model: string;
    output: string | null;
    error: { code: string; message: string } | null;
    usage: Usage;
    attempts: number;
    timings: { startedAt: string | null; finishedAt: string | null; durationMs: number | null };
  }>;
  timings: {
    createdAt: string;
    startedAt: string | null;
    finishedAt: string | null;
    durationMs: number | null;
  };
  links: { self: string; cancel: string };
}

export interface ListWorkflowRunsQuery extends PageQuery {
  status?: RunStatus;
  /** chain id or name */
  workflow?: string;
  from?: string | Date;
  to?: string | Date;
}

/** Events an endpoint can subscribe to (`webhook.test` is sent by `webhooks.test` to any endpoint). */
export type WebhookEventType =
  | 'prompt.executed'
  | 'prompt.failed'
  | 'workflow.completed'
  | 'workflow.failed'
  | 'team.member_added'
  | 'team.member_removed'
  | 'usage.alert'
  | 'webhook.endpoint_disabled';

export interface WebhookEndpoint {
  id: string;
  url: string;
  description: string;
  events: string[];
  enabled: boolean;
  /** `failing`: every delivery failed for 5 days; update `enabled: true` to resume */
  disabledReason: 'failing' | null;
  /** after a rotation: until when the previous secret also signs */
  previousSecretExpiresAt: string | null;
  createdAt: string;
  updatedAt: string;
}

/** An endpoint as created or its secret rotated: `secret` (`whsec_…`) is shown only here. */
export interface WebhookEndpointWithSecret extends WebhookEndpoint {
  secret: string;
}

export interface WebhookParams {
  url: string;
  events: WebhookEventType[];
  description?: string;
  enabled?: boolean;
}

/** Only the fields given change. */
export type UpdateWebhookParams = Partial<WebhookParams>;

export interface WebhookDelivery {
  /** `msg_…`: the `webhook-id` header, the same on every attempt */
  id: string;
  endpointId: string | null;
  eventId: string;
  event: string;
  status: 'pending' | 'succeeded' | 'failed' | 'canceled';
  attemptCount: number;
  nextAttemptAt: string | null;
  createdAt: string;
  updatedAt: string;
  attempts: Array<{
    attempt: number;
    status: 'succeeded' | 'failed';
    responseStatus: number | null;
    responseBody: string | null;
    latencyMs: number;
    error: string | null;
    createdAt: string;
  }>;
}

/** The payload of a webhook delivery. */
export interface WebhookEvent<D = Record<string, unknown>> {
  id: string;
  event: WebhookEventType | string;
  created_at: string;
  api_version: string;
  data: D;
}

export interface UsageQuery {
  /** default: `to` − 24 h (rounded down to the hour or UTC day) */
  from?: string | Date;
  /** exclusive; default now */
  to?: string | Date;
  granularity?: 'hour' | 'day';
  groupBy?: 'key' | 'prompt' | 'model';
}

export interface UsageMetrics {
  /** runs that ended (any status) */
  requests: number;
  /** failed runs */
  errors: number;
  canceled: number;
  cacheHits: number;
  promptTokens: number;
  completionTokens: number;
  totalTokens: number;
  cost: number;
  avgLatencyMs: number | null;
  p95LatencyMs: number | null;
}

export interface UsageBucket extends UsageMetrics {
  start: string;
  end: string;
}

export interface UsageReport {
  from: string;
  to: string;
  granularity: 'hour' | 'day';
  groupBy: 'key' | 'prompt' | 'model' | null;
  totals: UsageMetrics;
  /** every bucket of the range, zero-filled */
  buckets: UsageBucket[];
  /** with groupBy: one zero-filled series per key, prompt or model */
  groups: Array<{ key: string | null; name: string | null; totals: UsageMetrics; buckets: UsageBucket[] }>;
}

export interface KeyAnalytics {
  key: { id: string; name: string; createdAt: string; lastUsedAt: string | null; usageCount: number };
  from: string;
  to: string;
  granularity: 'hour' | 'day';
  totals: UsageMetrics & { successRate: number | null; errorRate: number | null };
  buckets: UsageBucket[];
}

export interface Billing {
  plan: 'free' | 'pro' | 'team' | 'enterprise';
  billingStatus: 'active' | 'past_due' | 'disputed' | 'canceled';
  limits: { requestsPerMinute: number; requestsPerDay: number; tokenBudget: number | null };
  period: { start: string; end: string };
  usage: {
    runs: number;
    tokensUsed: number;
    tokensReserved: number;
    tokensRemaining: number | null;
    cost: number;
  };
}

export interface Alert {
  id: string;
  type: 'usage_threshold' | 'error_rate' | 'cost_threshold';
  name: string;
  enabled: boolean;
  thresholdPercent: number | null;
  windowMinutes: number | null;
  minRequests: number | null;
  amountUsd: number | null;
  keyId: string | null;
  state: 'ok' | 'firing' | 'disabled';
  lastValue: number | null;
  lastEvaluatedAt: string | null;
  lastFiredAt: string | null;
  createdAt: string;
}

interface AlertCommon {
  name?: string | undefined;
  enabled?: boolean | undefined;
}

/** A rule: percent of the tightest limit, percent of failed runs over a window, or USD per UTC day. */
export type AlertParams =
  | (AlertCommon & {
      type: 'usage_threshold';
      thresholdPercent?: number | undefined;
      keyId?: string | undefined;
    })
  | (AlertCommon & {
      type: 'error_rate';
      thresholdPercent?: number | undefined;
      windowMinutes?: number | undefined;
      minRequests?: number | undefined;
    })
  | (AlertCommon & { type: 'cost_threshold'; amountUsd: number });

export interface UpdateAlertParams {
  enabled?: boolean;
  name?: string;
}
