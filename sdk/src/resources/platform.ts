// Chains, webhooks, usage, billing and alerts, per API.md.
import type { RequestOptions, Transport } from '../http.ts';
import type {
  Alert,
  AlertParams,
  ListWorkflowRunsQuery,
  Page,
  PageQuery,
  RunStatus,
  StartWorkflowRunParams,
  UpdateAlertParams,
  UpdateWebhookParams,
  UsageQuery,
  WebhookDelivery,
  WebhookEndpoint,
  WebhookEndpointWithSecret,
  WebhookParams,
  Workflow,
  WorkflowParams,
  WorkflowRun,
} from '../types.ts';
import { isoTime, newIdempotencyKey, pageQuery } from './shared.ts';

const FINISHED: ReadonlySet<string> = new Set<RunStatus>(['succeeded', 'failed', 'canceled']);

/** What `workflows.run` returns: the chain run's id and state, and the finished run when `wait` saw it end. */
export interface StartedWorkflowRun {
  id: string;
  status: RunStatus;
  links: { self: string; cancel: string };
  idempotencyKey: string;
  replayed: boolean;
  run: WorkflowRun | null;
}

/** Chains (`/v1/workflows`): steps that feed each other's output. */
export class Workflows {
  /** @internal */
  readonly t: Transport;
  constructor(t: Transport) {
    this.t = t;
  }

  async create(params: WorkflowParams, opts?: RequestOptions): Promise<Workflow> {
    return (await this.t.json<{ data: Workflow }>('workflows.create', { ...opts, body: params })).body.data;
  }

  async list(query: PageQuery = {}, opts?: RequestOptions): Promise<Page<Workflow>> {
    return (await this.t.json<Page<Workflow>>('workflows.list', { ...opts, query: pageQuery(query) })).body;
  }

  /** The current revision, or an earlier one. */
  async get(id: string, query: { revision?: number } = {}, opts?: RequestOptions): Promise<Workflow> {
    const r = await this.t.json<{ data: Workflow }>('workflows.get', {
      ...opts,
      params: { id },
      query: { revision: query.revision },
    });
    return r.body.data;
  }

  async update(id: string, params: WorkflowParams, opts?: RequestOptions): Promise<Workflow> {
    const r = await this.t.json<{ data: Workflow }>('workflows.update', {
      ...opts,
      params: { id },
      body: params,
    });
    return r.body.data;
  }

  async delete(id: string, opts?: RequestOptions): Promise<void> {
    await this.t.send('workflows.delete', { ...opts, params: { id } });
  }

  /**
   * Starts a chain run (async). Like `runs.start`: one Idempotency-Key across retries, and `wait`
   * (`Prefer: wait=N`, N ≤ 60) answers with the finished chain run when it ends in time.
   */
  async run(
    id: string,
    params: StartWorkflowRunParams = {},
    opts: RequestOptions & { idempotencyKey?: string; wait?: number } = {},
  ): Promise<StartedWorkflowRun> {
    const wait = opts.wait === undefined ? undefined : Math.max(0, Math.min(60, Math.floor(opts.wait)));
    const idempotencyKey = opts.idempotencyKey ?? newIdempotencyKey();
    const { body, response } = await this.t.json<{ data: WorkflowRun }>('workflows.run', {
      ...opts,
      params: { id },
      body: params,
      idempotencyKey,
      headers: { ...opts.headers, ...(wait ? { prefer: `wait=${wait}` } : {}) },
      timeoutMs: (opts.timeoutMs ?? 60_000) + (wait ?? 0) * 1000,
    });
    const data = body.data;
    return {
      id: data.id,
      status: data.status,
      links: data.links,
      idempotencyKey,
      replayed: response.headers.get('idempotent-replayed') === 'true',
      run: response.status === 200 ? data : null,
    };
  }

  /** Runs of one chain, newest first. */
  async runs(id: string, query: Omit<ListWorkflowRunsQuery, 'workflow'> = {}, opts?: RequestOptions) {
    const r = await this.t.json<Page<WorkflowRun>>('workflows.runs', {
      ...opts,
      params: { id },
      query: { ...pageQuery(query), status: query.status, from: isoTime(query.from), to: isoTime(query.to) },
    });
    return r.body;
  }

  /** Chain runs of every chain (without their steps), newest first. */
  async listRuns(query: ListWorkflowRunsQuery = {}, opts?: RequestOptions): Promise<Page<WorkflowRun>> {
    const r = await this.t.json<Page<WorkflowRun>>('workflowRuns.list', {
      ...opts,
      query: {
        ...pageQuery(query),
        status: query.status,
        workflow: query.workflow,
        from: isoTime(query.from),
        to: isoTime(query.to),
      },
    });
    return r.body;
  }

  async getRun(runId: string, opts?: RequestOptions): Promise<WorkflowRun> {
    return (await this.t.json<{ data: WorkflowRun }>('workflowRuns.get', { ...opts, params: { id: runId } }))
      .body.data;
  }

  async cancelRun(runId: string, opts?: RequestOptions): Promise<WorkflowRun> {
    const r = await this.t.json<{ data: WorkflowRun }>('workflowRuns.cancel', {
      ...opts,
      params: { id: runId },
    });
    return r.body.data;
  }

  /** Polls a chain run until it has finished. */
  async waitRun(runId: string, opts: RequestOptions & { deadlineMs?: number } = {}): Promise<WorkflowRun> {
    const deadline = Date.now() + (opts.deadlineMs ?? 600_000);
    for (let delay = 250; ; delay = Math.min(2000, delay * 2)) {
      const run = await this.getRun(runId, opts);
      if (FINISHED.has(run.status) || Date.now() > deadline) return run;
      await new Promise((r) => setTimeout(r, delay));
    }
  }
}

/** Webhook endpoints and their delivery log. Verify deliveries with `verifyWebhook`. */
export class Webhooks {
  /** @internal */
  readonly t: Transport;
  constructor(t: Transport) {
    this.t = t;
  }

  /** The endpoint's signing secret (`whsec_…`) is in `secret`, once. */
  async create(params: WebhookParams, opts?: RequestOptions): Promise<WebhookEndpointWithSecret> {
    return (
      await this.t.json<{ data: WebhookEndpointWithSecret }>('webhooks.create', { ...opts, body: params })
    ).body.data;
  }

  async list(query: PageQuery = {}, opts?: RequestOptions): Promise<Page<WebhookEndpoint>> {
    return (await this.t.json<Page<WebhookEndpoint>>('webhooks.list', { ...opts, query: pageQuery(query) }))
      .body;
  }

  /** The organization's default secret: it signs deliveries to a run's own `webhookUrl`. */
  async defaultSecret(opts?: RequestOptions): Promise<string> {
    return (await this.t.json<{ data: { secret: string } }>('webhooks.defaultSecret', opts)).body.data.secret;
  }

  async get(id: string, opts?: RequestOptions): Promise<WebhookEndpoint> {
    return (await this.t.json<{ data: WebhookEndpoint }>('webhooks.get', { ...opts, params: { id } })).body
      .data;
  }

  async update(id: string, params: UpdateWebhookParams, opts?: RequestOptions): Promise<WebhookEndpoint> {
    const r = await this.t.json<{ data: WebhookEndpoint }>('webhooks.update', {
      ...opts,
      params: { id },
      body: params,
    });
    return r.body.data;
  }

  /** Resolves with the deleted endpoint. */
  async delete(id: string, opts?: RequestOptions): Promise<WebhookEndpoint> {
    return (await this.t.json<{ data: WebhookEndpoint }>('webhooks.delete', { ...opts, params: { id } })).body
      .data;
  }

  /** A new secret (shown once); the previous one also signs until `previousSecretExpiresAt`. */
  async rotateSecret(id: string, opts?: RequestOptions): Promise<WebhookEndpointWithSecret> {
    const r = await this.t.json<{ data: WebhookEndpointWithSecret }>('webhooks.rotateSecret', {
      ...opts,
      params: { id },
    });
    return r.body.data;
  }

  /** Sends a `webhook.test` event to the endpoint; resolves with its delivery. */
  async test(id: string, opts?: RequestOptions): Promise<WebhookDelivery> {
    return (await this.t.json<{ data: WebhookDelivery }>('webhooks.test', { ...opts, params: { id } })).body
      .data;
  }

  async deliveries(id: string, query: PageQuery = {}, opts?: RequestOptions): Promise<Page<WebhookDelivery>> {
    const r = await this.t.json<Page<WebhookDelivery>>('webhooks.deliveries', {
      ...opts,
      params: { id },
      query: pageQuery(query),
    });
    return r.body;
  }

  /** Delivers a message again now; the attempt shows in its log. */
  async retryDelivery(msgId: string, opts?: RequestOptions): Promise<WebhookDelivery> {
    const r = await this.t.json<{ data: WebhookDelivery }>('webhooks.retryDelivery', {
      ...opts,
      params: { msgId },
    });
    return r.body.data;
  }
}

/** Alert rules: `usage_threshold`, `error_rate`, `cost_threshold`; firing emits `usage.alert`. */
export class Alerts {
  /** @internal */
  readonly t: Transport;
  constructor(t: Transport) {
    this.t = t;
  }

  async create(params: AlertParams, opts?: RequestOptions): Promise<Alert> {
    return (await this.t.json<{ data: Alert }>('alerts.create', { ...opts, body: params })).body.data;
  }

  async list(query: PageQuery = {}, opts?: RequestOptions): Promise<Page<Alert>> {
    return (await this.t.json<Page<Alert>>('alerts.list', { ...opts, query: pageQuery(query) })).body;
  }

  async get(id: string, opts?: RequestOptions): Promise<Alert> {
    return (await this.t.json<{ data: Alert }>('alerts.get', { ...opts, params: { id } })).body.data;
  }

  /** Enables, disables or renames a rule. */
  async update(id: string, params: UpdateAlertParams, opts?: RequestOptions): Promise<Alert> {
    return (await this.t.json<{ data: Alert }>('alerts.update', { ...opts, params: { id }, body: params }))
      .body.data;
  }

  async delete(id: string, opts?: RequestOptions): Promise<void> {
    await this.t.send('alerts.delete', { ...opts, params: { id } });
  }
}

export function usageQuery(q: UsageQuery) {
  return { from: isoTime(q.from), to: isoTime(q.to), granularity: q.granularity, groupBy: q.groupBy };
}
