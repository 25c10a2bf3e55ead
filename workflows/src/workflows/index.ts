// The workflow bundle entry point: every workflow the worker registers is exported here.

export { chain } from './chain.workflow.ts';
export { runPromptWorkflow } from './run-prompt.workflow.ts';
