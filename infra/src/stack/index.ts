export { DEMO_PROMPT, ensureDemoSeed } from './demo-seed.ts';
export { type EphemeralStack, startEphemeralStack } from './ephemeral.ts';
export { freePort, isPortOpen, waitFor } from './ports.ts';
export { startEmbeddedPostgres } from './postgres.ts';
export { persistedSecret, REPO_ROOT, type Stack, type StackOptions, startStack } from './stack.ts';
export { startTemporalDevServer, temporalCliPath } from './temporal.ts';
