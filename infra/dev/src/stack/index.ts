export { DEMO_PLAN, DEMO_PROMPT, ensureDemoSeed } from './demo-seed.ts';
export { type EphemeralStack, startEphemeralStack } from './ephemeral.ts';
export { freePort, isPortOpen, waitFor } from './ports.ts';
export { startEmbeddedPostgres } from './postgres.ts';
export { type ServiceProcess, startService } from './processes.ts';
export { persistedSecret, REPO_ROOT, type Stack, type StackOptions, startStack } from './stack.ts';
export { killOnExit, startTemporalDevServer, stopChild, temporalCliPath } from './temporal.ts';
