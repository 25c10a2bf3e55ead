// The workflow bundle entry point: every workflow the worker registers is exported here.

export { chain } from './chain.workflow.ts';
export { deliverWebhookWorkflow } from './deliver-webhook.workflow.ts';
export { evaluateAlertsWorkflow } from './evaluate-alerts.workflow.ts';
export { runPromptWorkflow } from './run-prompt.workflow.ts';
