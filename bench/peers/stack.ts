/**
 * The ONE place the comparison bench imports Promptmill's dev-only tooling (the local stack and the
 * mock provider). They are moving to the `@promptmill/dev` package (infra/dev/src/stack,
 * infra/dev/src/mock-provider): repoint these lines and nothing else in bench/compare or bench/peers.
 */
export type { MockProvider } from '../../infra/src/mock-provider/index.ts';
export { type EphemeralStack, freePort, startEphemeralStack } from '../../infra/src/stack/index.ts';
export { type ServiceProcess, startService } from '../../infra/src/stack/processes.ts';
export { stopChild } from '../../infra/src/stack/temporal.ts';
