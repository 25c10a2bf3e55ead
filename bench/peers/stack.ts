/** The one place the comparison bench imports Promptmill's dev-only tooling (local stack, mock provider). */
export type { MockProvider } from '@promptmill/dev/mock-provider';
export {
  type EphemeralStack,
  freePort,
  type ServiceProcess,
  startEphemeralStack,
  startService,
  stopChild,
} from '@promptmill/dev/stack';
