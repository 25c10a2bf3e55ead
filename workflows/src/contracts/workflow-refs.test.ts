import { describe, expect, it } from 'vitest';
import * as workflows from '../workflows/index.ts';
import {
  CHAIN_WORKFLOW,
  DELIVER_WEBHOOK_WORKFLOW,
  EVALUATE_ALERTS_WORKFLOW,
  RUN_PROMPT_WORKFLOW,
} from './workflow-refs.ts';

describe('workflow refs', () => {
  it('name workflows the bundle exports, under the name Temporal registers them by', () => {
    const exported = Object.entries(workflows).map(([name, fn]) => [name, (fn as () => unknown).name]);
    for (const ref of [
      RUN_PROMPT_WORKFLOW,
      CHAIN_WORKFLOW,
      EVALUATE_ALERTS_WORKFLOW,
      DELIVER_WEBHOOK_WORKFLOW,
    ]) {
      expect(exported).toContainEqual([ref.type, ref.type]);
    }
  });
});
