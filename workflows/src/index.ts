export * from './contracts/activities.ts';
export * from './contracts/errors.ts';
export * from './contracts/ids.ts';
export * from './contracts/run.ts';
export * from './contracts/run-policy.ts';
export * from './contracts/tokens.ts';
export * from './contracts/webhooks.ts';
export * from './contracts/workflow-refs.ts';
export type { RunPromptWorkflowInput } from './workflows/run-prompt.workflow.ts';
