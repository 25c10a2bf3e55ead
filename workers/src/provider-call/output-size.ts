import { MAX_RUN_PAYLOAD_BYTES } from '@promptmill/workflows';
import type { ProviderFailure } from './provider-failure.ts';

const grouped = (n: number) => n.toLocaleString('en-US');

/**
 * A provider's answer is the callModel activity's result and the run workflow's result: Temporal
 * payloads, which the server refuses above its blob size limit. Left alone, a larger output would
 * leave the run's workflow failing its task over and over (the run never ends); refused here, the
 * run fails at once (PROVIDER_REJECTED: another attempt would not make it smaller). The api's direct
 * mode refuses it alike, so a run's outcome does not depend on its mode. Undefined when the output
 * fits MAX_RUN_PAYLOAD_BYTES as JSON.
 */
export function oversizeOutputFailure(output: string, model: string): ProviderFailure | undefined {
  // a UTF-16 unit is at most 6 bytes once JSON-escaped: most outputs are decided without serialising
  if (6 * output.length <= MAX_RUN_PAYLOAD_BYTES) return undefined;
  const bytes = Buffer.byteLength(JSON.stringify(output), 'utf8') - 2;
  if (bytes <= MAX_RUN_PAYLOAD_BYTES) return undefined;
  return {
    code: 'PROVIDER_REJECTED',
    message: `Model '${model}' returned an output of ${grouped(bytes)} bytes; a run's output may have at most ${grouped(MAX_RUN_PAYLOAD_BYTES)} bytes`,
    nonRetryable: true,
  };
}
