import { type ClientOptions, type RequestOptions, Transport } from './http.ts';
import { Keys, Members } from './resources/accounts.ts';
import { Alerts, usageQuery, Webhooks, Workflows } from './resources/platform.ts';
import { Prompts, Templates } from './resources/prompts.ts';
import { type RunOptions, Runs, SyncRuns } from './resources/runs.ts';
import type { RunStream } from './stream.ts';
import type { Billing, Me, SyncRunResult, UsageQuery, UsageReport } from './types.ts';

/**
 * The Promptmill API client.
 *
 * ```ts
 * const pm = new Promptmill({ apiKey: process.env.PROMPTMILL_API_KEY });
 * const { output } = await pm.run('support-reply', { ticket: 'My invoice is wrong' });
 * ```
 */
export class Promptmill {
  readonly prompts: Prompts;
  readonly templates: Templates;
  readonly runs: Runs;
  readonly keys: Keys;
  readonly members: Members;
  readonly workflows: Workflows;
  readonly webhooks: Webhooks;
  readonly alerts: Alerts;
  readonly #t: Transport;
  readonly #sync: SyncRuns;

  constructor(options: ClientOptions = {}) {
    const t = new Transport(options);
    this.#t = t;
    this.prompts = new Prompts(t);
    this.templates = new Templates(t);
    this.runs = new Runs(t);
    this.keys = new Keys(t);
    this.members = new Members(t);
    this.workflows = new Workflows(t);
    this.webhooks = new Webhooks(t);
    this.alerts = new Alerts(t);
    this.#sync = new SyncRuns(t);
  }

  get baseUrl(): string {
    return this.#t.baseUrl;
  }

  /** Runs a prompt's production version (or `version` / `label`) and waits for its output. */
  run(prompt: string, variables?: Record<string, unknown>, opts?: RunOptions): Promise<SyncRunResult> {
    return this.#sync.run(prompt, variables, opts);
  }

  /**
   * Runs a prompt and streams its output: `for await (const delta of stream)`, then `stream.result`
   * has the usage. Errors before the run starts throw here; a failure mid-way throws RunStreamError
   * from the loop.
   */
  stream(prompt: string, variables?: Record<string, unknown>, opts?: RunOptions): Promise<RunStream> {
    return this.#sync.stream(prompt, variables, opts);
  }

  /** Seed 004's agent call: a prompt's production version, by id. */
  executeAgent(
    promptId: string,
    variables?: Record<string, unknown>,
    opts?: RequestOptions,
  ): Promise<SyncRunResult> {
    return this.#sync.agent(promptId, variables, opts);
  }

  /** The calling key, its organization, plan, limits and usage this period. */
  async me(opts?: RequestOptions): Promise<Me> {
    return (await this.#t.json<{ data: Me }>('me', opts)).body.data;
  }

  /** Runs, failed runs, tokens, cost and latency over a period (default: the last 24 h). */
  async usage(query: UsageQuery = {}, opts?: RequestOptions): Promise<UsageReport> {
    return (await this.#t.json<{ data: UsageReport }>('usage', { ...opts, query: usageQuery(query) })).body
      .data;
  }

  /** Plan, limits, period, tokens used and left, cost this period. */
  async billing(opts?: RequestOptions): Promise<Billing> {
    return (await this.#t.json<{ data: Billing }>('billing', opts)).body.data;
  }
}
