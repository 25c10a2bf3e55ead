// The workflow bundle entry point: every workflow the worker registers is exported here.

export { deliverWebhookWorkflow } from './deliver-webhook.workflow.ts';
export { runPromptWorkflow } from './run-prompt.workflow.ts';
