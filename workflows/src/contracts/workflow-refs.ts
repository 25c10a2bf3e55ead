import type { chain } from '../workflows/chain.workflow.ts';
import type { deliverWebhookWorkflow } from '../workflows/deliver-webhook.workflow.ts';
import type { evaluateAlertsWorkflow } from '../workflows/evaluate-alerts.workflow.ts';
import type { runPromptWorkflow } from '../workflows/run-prompt.workflow.ts';

/** Any workflow function: what Temporal's client generics accept. */
// biome-ignore lint/suspicious/noExplicitAny: Temporal's own `Workflow` type is `(...args: any[]) => WorkflowReturnType`
type AnyWorkflow = (...args: any[]) => Promise<unknown>;

/**
 * A workflow as its callers see it: the type name Temporal registers (the function's name) and,
 * as a phantom type, the function itself, so a start's arguments and a handle's result are typed
 * from the workflow's own signature. Callers import this, never the workflow code or a bare string;
 * `workflow-refs.test.ts` checks each name against the exported function.
 */
export interface WorkflowRef<W extends AnyWorkflow> {
  readonly type: string;
  readonly workflow?: W;
}

export type WorkflowOf<R> = R extends WorkflowRef<infer W> ? W : never;

/** One prompt run (workflow id = run id). */
export const RUN_PROMPT_WORKFLOW: WorkflowRef<typeof runPromptWorkflow> = { type: 'runPromptWorkflow' };

/** One webhook message (workflow id = message id; a manual retry `<msg id>-retry-<n>`). */
export const DELIVER_WEBHOOK_WORKFLOW: WorkflowRef<typeof deliverWebhookWorkflow> = {
  type: 'deliverWebhookWorkflow',
};

/** One chain run (workflow type `chain`, workflow id = the `wfr_` id). */
export const CHAIN_WORKFLOW: WorkflowRef<typeof chain> = { type: 'chain' };

/** One evaluation of every enabled alert rule (started by the `promptmill-alerts` schedule). */
export const EVALUATE_ALERTS_WORKFLOW: WorkflowRef<typeof evaluateAlertsWorkflow> = {
  type: 'evaluateAlertsWorkflow',
};
