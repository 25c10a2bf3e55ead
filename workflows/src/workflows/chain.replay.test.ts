// Determinism guard for the chain workflow: recorded histories must replay against the current code
// (a change that reorders, adds or removes commands — activities, child workflows — fails here).
//
// Re-record the fixtures (only for a deliberate, versioned change to the workflow):
//   RECORD_HISTORIES=1 npx vitest run --project unit workflows/src/workflows/chain.replay.test.ts \
//     && npx biome format --write workflows/test/chain-histories
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { ApplicationFailure } from '@temporalio/common';
import { historyFromJSON, historyToJSON } from '@temporalio/common/lib/proto-utils.js';
import { bundleWorkflowCode, Worker, type WorkflowBundleWithSourceMap } from '@temporalio/worker';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chainInput, fakeChainActivities, runChain, step } from '../../test/chain-env.ts';
import {
  quietRuntime,
  reply,
  silentLogger,
  startWorkflowTestEnv,
  untilCanceled,
  WORKFLOWS_PATH,
  type WorkflowTestEnv,
} from '../../test/workflow-env.ts';

const isRecording = process.env.RECORD_HISTORIES === '1';
const HISTORIES_DIR = fileURLToPath(new URL('../../test/chain-histories/', import.meta.url));
const fixture = (name: string) => `${HISTORIES_DIR}${name}.json`;

const diamond = () => [
  step('a', { variables: { v: '{{input.topic}}' } }),
  step('b', { isJsonRead: true }),
  step('c', { dependsOn: ['a', 'b'], variables: { x: '{{steps.a.output}}', y: '{{steps.b.json.k}}' } }),
];

/** One scenario per path through the workflow; each chain's workflow id is `wfr_replay_<name>`. */
const SCENARIOS: Record<string, (t: WorkflowTestEnv, id: string) => Promise<void>> = {
  'chain-succeeded': async (t, id) => {
    const { activities } = fakeChainActivities(async (s, req) =>
      reply(req.model, s === 'b' ? '{"k":1}' : `out-${s}`),
    );
    await runChain(t, activities, chainInput(id, diamond(), { input: { topic: 'owls' } }));
  },
  'chain-failed': async (t, id) => {
    const { activities } = fakeChainActivities(async (s, req) => {
      if (s === 'b')
        throw ApplicationFailure.create({ type: 'PROVIDER_REJECTED', message: 'no', nonRetryable: true });
      return reply(req.model);
    });
    await runChain(t, activities, chainInput(id, diamond(), { input: { topic: 'owls' } }));
  },
  'chain-canceled': async (t, id) => {
    let started: () => void = () => {};
    const callStarted = new Promise<void>((r) => {
      started = r;
    });
    const slow = untilCanceled(started, () => {});
    const { activities } = fakeChainActivities(async (s, req) =>
      s === 'a' ? slow() : reply(req.model, '{"k":2}'),
    );
    await runChain(t, activities, chainInput(id, diamond(), { input: { topic: 'owls' } }), async (wf) => {
      await callStarted;
      await t.env.client.workflow.getHandle(wf).cancel();
    });
  },
};

const workflowIdOf = (name: string) => `wfr_replay_${name.replace('chain-', '')}`;

describe.runIf(isRecording)('record chain histories', () => {
  let t: WorkflowTestEnv;
  beforeAll(async () => {
    t = await startWorkflowTestEnv();
  }, 120_000);
  afterAll(async () => {
    await t?.env.teardown();
  });
  for (const [name, scenario] of Object.entries(SCENARIOS)) {
    it(`records ${name}`, async () => {
      await scenario(t, workflowIdOf(name));
      const history = await t.env.client.workflow.getHandle(workflowIdOf(name)).fetchHistory();
      writeFileSync(fixture(name), `${JSON.stringify(JSON.parse(historyToJSON(history)), null, 2)}\n`);
      expect(history.events?.length).toBeGreaterThan(5);
    });
  }
});

describe('chain workflow replay', () => {
  let bundle: WorkflowBundleWithSourceMap;
  beforeAll(async () => {
    quietRuntime();
    bundle = await bundleWorkflowCode({ workflowsPath: WORKFLOWS_PATH, logger: silentLogger });
  }, 60_000);

  it('keeps a history of every scenario', () => {
    const names = readdirSync(HISTORIES_DIR).map((f) => f.replace(/\.json$/, ''));
    for (const name of Object.keys(SCENARIOS)) expect(names).toContain(name);
  });

  for (const name of Object.keys(SCENARIOS)) {
    it(`replays the recorded ${name} history deterministically`, async () => {
      const history = historyFromJSON(JSON.parse(readFileSync(fixture(name), 'utf8')));
      expect(history.events?.length).toBeGreaterThan(5);
      await expect(
        Worker.runReplayHistory({ workflowBundle: bundle }, history, name),
      ).resolves.toBeUndefined();
    });
  }
});
