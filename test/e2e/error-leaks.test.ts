// Provider error texts never reach tenants (hardening item 15). The mock provider answers with an
// error body full of secret-looking text (a key, an internal URL); every way a tenant can see the
// run's failure — the sync JSON error (seed shape), the agents route, the SSE `error` event, the
// async run resource and the run list — carries the documented code and a fixed message, and the
// provider's text is kept only in the run's attempt record (usage_events.error_detail), which the
// API does not show.

import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { apiUrl, call, createOrg, createPrompt, mock, type TestOrg, unique } from './helpers.ts';
import { pollRun, type RunBody, testSql } from './runs-support.ts';

const sql = testSql();

const SECRET = `sk-live-${randomUUID().replaceAll('-', '')}`;
const HOST = 'internal-gateway.provider.example';
const providerBody = (status: number) =>
  `Upstream ${status}: key ${SECRET} rejected by https://${HOST}/v1/chat (trace at /srv/app/provider.py:42)`;

let org: TestOrg;
beforeAll(async () => {
  org = await createOrg({ plan: 'enterprise', limits: { perMinute: 100_000, perDay: 1_000_000 } });
});

/** Everything a tenant can read about a run, as raw text. */
async function everythingAbout(runId: string): Promise<string> {
  const one = await call('GET', `/v1/runs/${runId}`, { key: org.key });
  const list = await call('GET', '/v1/runs?status=failed&per_page=100', { key: org.key });
  return `${one.text}\n${list.text}`;
}

/** A streaming run's whole answer (SSE text) and its events. */
async function streamText(promptName: string, variables: Record<string, unknown>) {
  const res = await fetch(`${apiUrl}/api/v1/run`, {
    method: 'POST',
    headers: { authorization: `Bearer ${org.key}`, 'content-type': 'application/json' },
    body: JSON.stringify({ promptName, variables, stream: true }),
  });
  const text = await res.text();
  const events = text
    .split('\n\n')
    .map((block) => {
      const event = /^event: (.*)$/m.exec(block)?.[1];
      const data = /^data: (.*)$/m.exec(block)?.[1];
      return event && data ? { event, data: JSON.parse(data) as Record<string, unknown> } : undefined;
    })
    .filter((e) => e !== undefined);
  return { status: res.status, text, events };
}

const expectClean = (text: string) => {
  expect(text).not.toContain(SECRET);
  expect(text).not.toContain(HOST);
  expect(text).not.toContain('provider.py');
  expect(text).not.toContain('Upstream');
};

interface Detail {
  status: string;
  errorCode: string | null;
  errorDetail: string | null;
}
const attemptsOf = (runId: string) =>
  sql<Detail[]>`
    SELECT status, error_code AS "errorCode", error_detail AS "errorDetail"
    FROM usage_events WHERE run_id = ${runId} AND kind = 'attempt' ORDER BY seq`;

describe.each([
  [500, 'PROVIDER_ERROR', 3, "Model 'mock-1' failed: its provider answered HTTP 500"],
  [
    401,
    'PROVIDER_ERROR',
    1,
    "Model 'mock-1' was refused: its provider did not accept the deployment's credentials (HTTP 401)",
  ],
  [
    400,
    'PROVIDER_ERROR',
    1,
    "Model 'mock-1' rejected the request (HTTP 400): check the version's model and params",
  ],
])('a provider failing with HTTP %i and a secret in its error body', (status, code, attempts, message) => {
  let name: string;
  let marker: string;
  beforeAll(async () => {
    marker = unique(`leak${status}`);
    await mock.addRule({
      match: { contains: marker },
      action: { type: 'fail', status, message: providerBody(status) },
    });
    name = await createPrompt(org.key, { template: `${marker} {{x}}` });
  });

  it('sync run (seed shape) and agents: the code and a fixed message, the body nowhere', async () => {
    const sync = await call<{ success: boolean; error: string; code: string; runId: string }>(
      'POST',
      '/api/v1/run',
      { key: org.key, body: { promptName: name, variables: { x: 'sync' } } },
    );
    expect(sync.status).toBe(502);
    expect(sync.body).toMatchObject({ success: false, code, error: message });
    expectClean(sync.text);
    expectClean(await everythingAbout(sync.body.runId));

    const [prompt] = await sql<
      { id: string }[]
    >`SELECT id FROM prompts WHERE org_id = ${org.orgId} AND name = ${name}`;
    const agent = await call('POST', `/v1/agents/${prompt?.id}/execute`, {
      key: org.key,
      body: { variables: { x: 'agent' } },
    });
    expect(agent.status).toBe(502);
    expect(agent.body).toMatchObject({ success: false, code, error: message });
    expectClean(agent.text);

    // the detail is kept for the operator in the run's attempt record, truncated, never shown
    const recorded = await attemptsOf(sync.body.runId);
    expect(recorded).toHaveLength(attempts);
    for (const a of recorded) {
      expect(a.status).toBe('failed');
      expect(a.errorDetail).toContain(SECRET);
      expect(a.errorDetail).toContain(`HTTP ${status}`);
      expect(a.errorDetail!.length).toBeLessThanOrEqual(2_000);
    }
  });

  it('streaming run: the SSE error event carries the code and the fixed message', async () => {
    const res = await streamText(name, { x: 'stream' });
    expect(res.status).toBe(200);
    const last = res.events.at(-1);
    expect(last?.event).toBe('error');
    expect(last?.data).toMatchObject({ code, message });
    expectClean(res.text);
  });

  it('async run: the run resource and the run list carry the fixed message', async () => {
    const accepted = await call<{ data: { id: string } }>('POST', '/v1/runs', {
      key: org.key,
      body: { prompt: name, variables: { x: 'async' } },
    });
    expect(accepted.status).toBe(202);
    const run: RunBody = await pollRun(org.key, accepted.body.data.id);
    expect(run).toMatchObject({ status: 'failed', attempts, error: { code, message } });
    expectClean(await everythingAbout(run.id));
  });
});

describe('a stream that breaks mid-way', () => {
  it('ends with an error event naming the chunks, not the transport error', async () => {
    const marker = unique('broken');
    await mock.addRule({ match: { contains: marker }, action: { type: 'break-stream', afterChunks: 2 } });
    const name = await createPrompt(org.key, { template: `${marker} one two three four five` });
    const res = await streamText(name, {});
    const last = res.events.at(-1);
    expect(last?.event).toBe('error');
    expect(last?.data).toMatchObject({
      code: 'PROVIDER_ERROR',
      message: "The stream from model 'mock-1' broke after 2 chunks",
    });
    const runId = String(last?.data.runId);
    const [attempt] = await attemptsOf(runId);
    expect(attempt).toMatchObject({ status: 'failed', errorCode: 'STREAM_BROKEN' });
    expect(attempt?.errorDetail).toBeTruthy();
  });
});

describe('runs that failed before the fix (migration 008)', () => {
  it("cuts the provider's text off their stored message, keeping Promptmill's part", async () => {
    const marker = unique('old');
    const name = await createPrompt(org.key, { template: `${marker}` });
    const [p] = await sql<{ promptId: string; versionId: string }[]>`
      SELECT p.id AS "promptId", v.id AS "versionId" FROM prompts p
      JOIN prompt_versions v ON v.prompt_id = p.id WHERE p.org_id = ${org.orgId} AND p.name = ${name}`;
    const before: [string, string, string][] = [
      [
        'PROVIDER_ERROR',
        `Model 'gpt-4o' failed with HTTP 500: 500 ${providerBody(500)}`,
        "Model 'gpt-4o' failed with HTTP 500",
      ],
      [
        'PROVIDER_REJECTED',
        `Model 'm: x' failed with HTTP 401: 401 ${SECRET}`,
        "Model 'm: x' failed with HTTP 401",
      ],
      [
        'PROVIDER_ERROR',
        `Model 'm' is unreachable: connect ECONNREFUSED ${HOST}:443`,
        "Model 'm' is unreachable",
      ],
      ['PROVIDER_ERROR', `Model 'm' call failed: ${SECRET}`, "Model 'm' call failed"],
      [
        'STREAM_BROKEN',
        `The stream from model 'm' broke after 3 chunks: ${HOST} reset`,
        "The stream from model 'm' broke after 3 chunks",
      ],
      [
        'PROVIDER_ERROR',
        `Model 'm' failed with HTTP 502: Model 'up' failed with HTTP 500: ${SECRET}`,
        "Model 'm' failed with HTTP 502",
      ],
      ['PROVIDER_ERROR', "Model 'm' timed out", "Model 'm' timed out"],
      [
        'SERVICE_UNAVAILABLE',
        'The run could not be started; try again',
        'The run could not be started; try again',
      ],
    ];
    const ids: string[] = [];
    for (const [code, message] of before) {
      const id = `run_${randomUUID().replaceAll('-', '')}`;
      ids.push(id);
      await sql`
        INSERT INTO runs (id, org_id, key_id, prompt_id, version_id, prompt_version, mode, status, variables,
                          model, error_code, error_message, finished_at)
        VALUES (${id}, ${org.orgId}, ${org.keyId}, ${p!.promptId}, ${p!.versionId}, 1, 'async', 'failed', '{}',
                'm', ${code}, ${message}, now())`;
    }
    const migration = readFileSync(
      fileURLToPath(new URL('../../infra/src/db/migrations/008_attempt_error_detail.sql', import.meta.url)),
      'utf8',
    );
    await sql.unsafe(migration); // idempotent: the stack applied it at start already
    const after = await sql<{ id: string; errorMessage: string }[]>`
      SELECT id, error_message AS "errorMessage" FROM runs WHERE id = ANY(${ids})`;
    const byId = new Map(after.map((r) => [r.id, r.errorMessage]));
    expect(ids.map((id) => byId.get(id))).toEqual(before.map(([, , cleaned]) => cleaned));
    for (const id of ids) expectClean(await everythingAbout(id));
  });
});
