// Determinism guard: recorded histories of runPromptWorkflow must replay against the current code.
// A change that reorders, adds or removes commands (activities, timers) for an existing history
// fails here before it can break in-flight runs in production.
//
// Re-record the fixtures (only for a deliberate, versioned change to the workflow):
//   RECORD_HISTORIES=1 npx vitest run --project unit workflows/src/workflows/run-prompt.replay.test.ts \
//     && npx biome format --write workflows/test/histories
// Histories of earlier versions stay in subfolders and are replayed too, so runs started by older
// code still finish: v1/ is from before a successful call recorded the run's completion itself (two
// local activities on the happy path).
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { ApplicationFailure } from '@temporalio/common';
import { historyFromJSON, historyToJSON } from '@temporalio/common/lib/proto-utils.js';
import { bundleWorkflowCode, Worker, type WorkflowBundleWithSourceMap } from '@temporalio/worker';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  fakeActivities,
  quietRuntime,
  reply,
  runWorkflow,
  silentLogger,
  startWorkflowTestEnv,
  untilCanceled,
  WORKFLOWS_PATH,
  type WorkflowTestEnv,
  workflowInput,
} from '../../test/workflow-env.ts';

const isRecording = process.env.RECORD_HISTORIES === '1';
const HISTORIES_DIR = fileURLToPath(new URL('../../test/histories/', import.meta.url));
const fixture = (name: string) => `${HISTORIES_DIR}${name}.json`;
/** every recorded history, current and earlier versions: `run-prompt-succeeded`, `v1/run-prompt-succeeded`, … */
const allFixtures = () =>
  readdirSync(HISTORIES_DIR, { recursive: true, encoding: 'utf8' })
    .filter((f) => f.endsWith('.json'))
    .map((f) => f.slice(0, -'.json'.length))
    .sort();

/** The scenarios whose histories are kept: one per path through the workflow. */
const SCENARIOS: Record<string, (t: WorkflowTestEnv) => Promise<void>> = {
  'run-prompt-succeeded': async (t) => {
    await runWorkflow(
      t,
      fakeActivities(async (req) => reply(req.model)),
      workflowInput({ runId: 'run_replay_succeeded', mode: 'stream' }),
    );
  },
  // two attempts on model-a (retryable), then the fallback model-b answers
  'run-prompt-fallback': async (t) => {
    await runWorkflow(
      t,
      fakeActivities(async (req) => {
        if (req.model === 'model-a')
          throw ApplicationFailure.create({ type: 'PROVIDER_ERROR', message: '500' });
        return reply(req.model);
      }),
      workflowInput({
        runId: 'run_replay_fallback',
        fallbackModels: ['model-b'],
        retry: { maxAttempts: 2, initialIntervalMs: 10 },
      }),
    );
  },
  'run-prompt-canceled': async (t) => {
    let started: () => void = () => {};
    const callStarted = new Promise<void>((resolve) => {
      started = resolve;
    });
    await runWorkflow(
      t,
      fakeActivities(untilCanceled(started, () => {})),
      workflowInput({ runId: 'run_replay_canceled', mode: 'stream' }),
      async (workflowId) => {
        await callStarted;
        await t.env.client.workflow.getHandle(workflowId).cancel();
      },
    );
  },
};

describe.runIf(isRecording)('record workflow histories', () => {
  let t: WorkflowTestEnv;
  beforeAll(async () => {
    t = await startWorkflowTestEnv();
  }, 120_000);
  afterAll(async () => {
    await t?.env.teardown();
  });

  for (const [name, scenario] of Object.entries(SCENARIOS)) {
    it(`records ${name}`, async () => {
      await scenario(t);
      const workflowId = `run_replay_${name.replace('run-prompt-', '')}`;
      const history = await t.env.client.workflow.getHandle(workflowId).fetchHistory();
      writeFileSync(fixture(name), `${JSON.stringify(JSON.parse(historyToJSON(history)), null, 2)}\n`);
      expect(history.events?.length).toBeGreaterThan(3);
    });
  }
});

describe('runPromptWorkflow replay', () => {
  let bundle: WorkflowBundleWithSourceMap;
  beforeAll(async () => {
    quietRuntime();
    bundle = await bundleWorkflowCode({ workflowsPath: WORKFLOWS_PATH, logger: silentLogger });
  }, 60_000);

  it('keeps a history of every scenario, and of the earlier version', () => {
    const names = allFixtures();
    for (const name of Object.keys(SCENARIOS)) {
      expect(names).toContain(name);
      expect(names).toContain(`v1/${name}`);
    }
  });

  for (const name of allFixtures()) {
    it(`replays the recorded ${name} history deterministically`, async () => {
      const history = historyFromJSON(JSON.parse(readFileSync(fixture(name), 'utf8')));
      expect(history.events?.length).toBeGreaterThan(3);
      await expect(
        Worker.runReplayHistory({ workflowBundle: bundle }, history, name),
      ).resolves.toBeUndefined();
    });
  }
});
