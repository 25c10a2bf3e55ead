// What a run resolves before it renders — its prompt, and the version its label (or number)
// picks — is cached per api process (api/src/prompts/run-prompt-cache.ts); a change of a prompt
// or its labels is announced by a trigger (migration 012) and seen by the next run: at once on the
// process that made it, within moments on the others.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { E2E_ENV } from './global-setup.ts';
import { call, createOrg, createPrompt, type TestOrg, unique } from './helpers.ts';
import { type ExtraApi, startExtraApi } from './limits-support.ts';
import type { SyncOk } from './runs-support.ts';

let org: TestOrg;
beforeAll(async () => {
  org = await createOrg({ plan: 'enterprise', limits: { perMinute: 100_000, perDay: 1_000_000 } });
});

const run = (body: Record<string, unknown>, baseUrl?: string) =>
  call<SyncOk & Record<string, unknown>>('POST', '/api/v1/run', {
    key: org.key,
    body,
    ...(baseUrl ? { baseUrl } : {}),
  });

describe('what runs resolve is cached per api process, and a change is seen by the next run', () => {
  let other: ExtraApi;
  beforeAll(async () => {
    other = await startExtraApi({ ...E2E_ENV });
  });
  afterAll(async () => {
    await other?.stop();
  });

  it('a label moved through one api process: the next run there uses it, and on another one within moments', async () => {
    const marker = unique('label-move');
    const name = await createPrompt(org.key, { template: `${marker} v1 {{x}}` });
    // both processes have the prompt cached
    expect((await run({ promptName: name, variables: { x: '1' } })).body.output).toBe(`Echo: ${marker} v1 1`);
    expect((await run({ promptName: name, variables: { x: '1' } }, other.url)).body.output).toBe(
      `Echo: ${marker} v1 1`,
    );
    const v2 = await call('POST', `/v1/prompts/${name}/versions`, {
      key: org.key,
      body: { template: `${marker} v2 {{x}}`, model: 'mock-1', labels: ['production'] },
    });
    expect(v2.status).toBe(201);
    expect((await run({ promptName: name, variables: { x: '2' } })).body.output).toBe(`Echo: ${marker} v2 2`);
    const movedAt = Date.now();
    await expect
      .poll(async () => (await run({ promptName: name, variables: { x: '3' } }, other.url)).body.output, {
        timeout: 1_000,
        interval: 20,
      })
      .toBe(`Echo: ${marker} v2 3`);
    expect(Date.now() - movedAt).toBeLessThan(1_000);

    // back to v1 through the other process, by label
    expect(
      (
        await call('PUT', `/v1/prompts/${name}/labels/production`, {
          key: org.key,
          body: { version: 1 },
          baseUrl: other.url,
        })
      ).status,
    ).toBe(200);
    expect((await run({ promptName: name, variables: { x: '4' } }, other.url)).body.output).toBe(
      `Echo: ${marker} v1 4`,
    );
    await expect
      .poll(async () => (await run({ promptName: name, variables: { x: '5' } })).body.output, {
        timeout: 1_000,
        interval: 20,
      })
      .toBe(`Echo: ${marker} v1 5`);
  });

  it('a renamed or deleted prompt is not run from the cache', async () => {
    const name = await createPrompt(org.key, { template: `${unique('rename')} {{x}}` });
    expect((await run({ promptName: name, variables: { x: '1' } }, other.url)).status).toBe(200);
    const renamed = `${name}-renamed`;
    expect(
      (await call('PATCH', `/v1/prompts/${name}`, { key: org.key, body: { name: renamed } })).status,
    ).toBe(200);
    await expect
      .poll(async () => (await run({ promptName: name, variables: { x: '2' } }, other.url)).status, {
        timeout: 1_000,
        interval: 20,
      })
      .toBe(404);
    expect((await run({ promptName: renamed, variables: { x: '3' } }, other.url)).status).toBe(200);
    expect((await call('DELETE', `/v1/prompts/${renamed}`, { key: org.key })).status).toBe(204);
    expect((await run({ promptName: renamed, variables: { x: '4' } })).status).toBe(404);
    await expect
      .poll(async () => (await run({ promptName: renamed, variables: { x: '5' } }, other.url)).status, {
        timeout: 1_000,
        interval: 20,
      })
      .toBe(404);
  });
});
