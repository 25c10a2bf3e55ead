// POST /v1/agents/:promptId/execute (seed 004): the production version, the sync run's answer.
import { beforeAll, describe, expect, it } from 'vitest';
import { call, createOrg, createPrompt, mock, type TestOrg, unique } from './helpers.ts';
import { insertKey, promptId, testSql } from './runs-support.ts';

const sql = testSql();

describe('POST /v1/agents/:promptId/execute', () => {
  let org: TestOrg;
  let name: string;
  let id: string;

  beforeAll(async () => {
    org = await createOrg();
    name = await createPrompt(org.key, { template: 'Agent answers {{question}}' });
    id = await promptId(org.key, name);
    // a newer version that is not production must not be used
    await call('POST', `/v1/prompts/${id}/versions`, {
      key: org.key,
      body: { template: 'draft {{question}}', model: 'mock-fast' },
    });
  });

  it('runs the production version by prompt id, with Bearer auth, answering like /api/v1/run', async () => {
    for (const base of ['/v1', '/api/v1']) {
      const res = await call<Record<string, unknown>>('POST', `${base}/agents/${id}/execute`, {
        headers: { authorization: `Bearer ${org.key}` },
        body: { variables: { question: 'why' } },
      });
      expect(res.status).toBe(200);
      expect(res.body).toMatchObject({
        success: true,
        output: 'Echo: Agent answers why',
        promptVersion: 1,
        model: 'mock-1',
        runId: expect.stringMatching(/^run_/),
        usage: { promptTokens: 6, completionTokens: 4, totalTokens: 10 },
      });
      expect(typeof res.body.durationMs).toBe('number');
      const [row] = await sql`SELECT mode, prompt_id FROM runs WHERE id = ${res.body.runId as string}`;
      expect(row).toEqual({ mode: 'sync', prompt_id: id });
    }
  });

  it('accepts the prompt name too', async () => {
    const res = await call('POST', `/v1/agents/${encodeURIComponent(name)}/execute`, {
      key: org.key,
      body: { variables: { question: 'q' } },
    });
    expect(res.status).toBe(200);
  });

  it("errors keep the seed shape: 404 unknown agent, 400 variables, 401, 403 another agent's key", async () => {
    const unknown = await call('POST', '/v1/agents/pmt_nope/execute', {
      key: org.key,
      body: { variables: {} },
    });
    expect(unknown.status).toBe(404);
    expect(unknown.body).toEqual({
      success: false,
      error: "Prompt 'pmt_nope' not found or has no PRODUCTION version",
      code: 'PROMPT_NOT_FOUND',
    });

    const missing = await call('POST', `/v1/agents/${id}/execute`, { key: org.key, body: {} });
    expect(missing.status).toBe(400);
    expect(missing.body).toMatchObject({ success: false, code: 'MISSING_VARIABLES' });

    const invalid = await call('POST', `/v1/agents/${id}/execute`, { key: org.key, body: { variables: [] } });
    expect(invalid.status).toBe(400);
    expect(invalid.body).toMatchObject({ success: false, code: 'VALIDATION_ERROR' });
    expect((invalid.body as { error: string }).error).toContain('variables');

    const noKey = await call('POST', `/v1/agents/${id}/execute`, { body: { variables: { question: 'q' } } });
    expect(noKey.status).toBe(401);
    expect(noKey.body).toEqual({
      success: false,
      error: 'Missing or malformed Authorization header',
      code: 'UNAUTHORIZED',
    });

    // seed 004: keys are scoped to specific agents
    const otherAgent = await createPrompt(org.key, { template: 'other' });
    const scoped = await insertKey(sql, org.orgId, {
      scopes: ['runs:execute'],
      promptIds: [await promptId(org.key, otherAgent)],
    });
    const denied = await call('POST', `/v1/agents/${id}/execute`, {
      key: scoped,
      body: { variables: { question: 'q' } },
    });
    expect(denied.status).toBe(403);
    expect(denied.body).toEqual({
      success: false,
      error: 'This API key is not allowed to run this prompt',
      code: 'FORBIDDEN',
    });
  });

  it('a prompt without a production version is 404', async () => {
    const draft = unique('draft');
    await call('POST', '/v1/prompts', { key: org.key, body: { name: draft } });
    await call('POST', `/v1/prompts/${draft}/versions`, {
      key: org.key,
      body: { template: 'x', model: 'mock-1' },
    });
    const res = await call('POST', `/v1/agents/${draft}/execute`, { key: org.key, body: { variables: {} } });
    expect(res.status).toBe(404);
    expect(res.body).toMatchObject({ success: false, code: 'PROMPT_NOT_FOUND' });
  });

  it('provider failure → 502 PROVIDER_ERROR in the seed shape', async () => {
    const marker = unique('agent-fail');
    const p = await createPrompt(org.key, { template: `${marker}` });
    const rule = await mock.addRule({ match: { contains: marker }, action: { type: 'fail', status: 401 } });
    try {
      const res = await call('POST', `/v1/agents/${await promptId(org.key, p)}/execute`, {
        key: org.key,
        body: { variables: {} },
      });
      expect(res.status).toBe(502);
      expect(res.body).toMatchObject({ success: false, code: 'PROVIDER_ERROR', runId: expect.any(String) });
    } finally {
      await mock.removeRule(rule);
    }
  });
});
