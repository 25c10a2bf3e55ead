// Chain definitions (`/v1/workflows`): create, revisions, validation (every problem at once),
// scopes and prompt restrictions, and tenant isolation.
import { beforeAll, describe, expect, it } from 'vitest';
import { call, createOrg, createPrompt, type TestOrg, unique } from './helpers.ts';
import { insertKey, promptId, testSql } from './runs-support.ts';

const sql = testSql();

interface Detail {
  field: string;
  message: string;
}
interface ErrorBody {
  error: { code: string; message: string; details?: Detail[] };
}
interface ChainBody {
  data: {
    id: string;
    name: string;
    revision: number;
    steps: { id: string; prompt: string; dependsOn: string[]; onError: string }[];
    input: { name: string }[];
    output: unknown;
  };
}

let org: TestOrg;
let summarize: string;
let translate: string;

beforeAll(async () => {
  org = await createOrg({ plan: 'enterprise' });
  summarize = await createPrompt(org.key, { template: 'Summarize: {{text}}' });
  translate = await createPrompt(org.key, { template: 'Translate to {{lang}}: {{text}}' });
});

const twoSteps = (name = unique('chain')) => ({
  name,
  description: 'summarize then translate',
  input: [{ name: 'text' }, { name: 'lang', required: false, default: 'French' }],
  steps: [
    { id: 'sum', prompt: summarize, variables: { text: '{{input.text}}' } },
    {
      id: 'tr',
      prompt: translate,
      dependsOn: ['sum'],
      variables: { text: 'Summary: {{steps.sum.output}}', lang: '{{input.lang}}' },
    },
  ],
  output: { step: 'tr' },
});

describe('chain definitions', () => {
  it('creates (201, Location, wf_ id, revision 1) and reads by id and by name', async () => {
    const body = twoSteps();
    const res = await call<ChainBody>('POST', '/v1/workflows', { key: org.key, body });
    expect(res.status).toBe(201);
    const { id } = res.body.data;
    expect(id).toMatch(/^wf_/);
    expect(res.headers.get('location')).toBe(`/v1/workflows/${id}`);
    expect(res.body.data).toMatchObject({
      name: body.name,
      revision: 1,
      output: { step: 'tr' },
      steps: [
        { id: 'sum', dependsOn: [], onError: 'fail' },
        { id: 'tr', dependsOn: ['sum'], onError: 'fail' },
      ],
    });
    for (const ref of [id, body.name]) {
      const got = await call<ChainBody>('GET', `/v1/workflows/${ref}`, { key: org.key });
      expect(got.status).toBe(200);
      expect(got.body.data.id).toBe(id);
    }
    const list = await call<{ data: { id: string }[]; meta: { total: number } }>('GET', '/v1/workflows', {
      key: org.key,
    });
    expect(list.body.data.map((c) => c.id)).toContain(id);
  });

  it('PUT makes a new immutable revision; earlier ones stay readable', async () => {
    const body = twoSteps();
    const created = await call<ChainBody>('POST', '/v1/workflows', { key: org.key, body });
    const id = created.body.data.id;
    const changed = { ...body, steps: [body.steps[0]!], output: undefined };
    const put = await call<ChainBody>('PUT', `/v1/workflows/${id}`, { key: org.key, body: changed });
    expect(put.status).toBe(200);
    expect(put.body.data).toMatchObject({ id, revision: 2 });
    expect(put.body.data.steps).toHaveLength(1);
    const v1 = await call<ChainBody>('GET', `/v1/workflows/${id}?revision=1`, { key: org.key });
    expect(v1.body.data.revision).toBe(1);
    expect(v1.body.data.steps).toHaveLength(2);
    const missing = await call<ErrorBody>('GET', `/v1/workflows/${id}?revision=9`, { key: org.key });
    expect(missing.status).toBe(404);
    expect(missing.body.error.code).toBe('WORKFLOW_NOT_FOUND');
  });

  it('concurrent PUTs each get a revision of their own', async () => {
    const body = twoSteps();
    const created = await call<ChainBody>('POST', '/v1/workflows', { key: org.key, body });
    const id = created.body.data.id;
    const puts = await Promise.all(
      Array.from({ length: 6 }, (_, i) =>
        call<ChainBody>('PUT', `/v1/workflows/${id}`, {
          key: org.key,
          body: { ...body, description: `v${i}` },
        }),
      ),
    );
    expect(puts.map((p) => p.status)).toEqual(Array(6).fill(200));
    expect(puts.map((p) => p.body.data.revision).sort((a, b) => a - b)).toEqual([2, 3, 4, 5, 6, 7]);
    const current = await call<ChainBody>('GET', `/v1/workflows/${id}`, { key: org.key });
    expect(current.body.data.revision).toBe(7);
  });

  it('refuses a duplicate name (409) and frees it on delete', async () => {
    const body = twoSteps();
    expect((await call('POST', '/v1/workflows', { key: org.key, body })).status).toBe(201);
    const dup = await call<ErrorBody>('POST', '/v1/workflows', { key: org.key, body });
    expect(dup.status).toBe(409);
    expect(dup.body.error.code).toBe('CONFLICT');
    const del = await call('DELETE', `/v1/workflows/${body.name}`, { key: org.key });
    expect(del.status).toBe(204);
    expect((await call('GET', `/v1/workflows/${body.name}`, { key: org.key })).status).toBe(404);
    expect((await call('POST', '/v1/workflows', { key: org.key, body })).status).toBe(201);
  });

  it('reports every problem at once: duplicates, unknown steps, cycles (named), references, prompts, variables', async () => {
    const res = await call<ErrorBody>('POST', '/v1/workflows', {
      key: org.key,
      body: {
        name: unique('bad'),
        input: [{ name: 'text' }],
        steps: [
          { id: 'a', prompt: summarize, dependsOn: ['c'], variables: { text: '{{steps.c.output}}' } },
          { id: 'b', prompt: summarize, dependsOn: ['a'], variables: { text: '{{input.nope}}' } },
          { id: 'c', prompt: summarize, dependsOn: ['b'], variables: { text: 'x' } },
          { id: 'a', prompt: summarize, variables: { text: 'dup' } },
          { id: 'd', prompt: summarize, dependsOn: ['ghost'], variables: { text: '{{steps.e.output}}' } },
          { id: 'e', prompt: 'no-such-prompt', variables: {} },
          { id: 'f', prompt: summarize, version: 99, variables: { text: 'x' } },
          { id: 'g', prompt: summarize, label: 'staging', variables: { text: 'x' } },
          { id: 'h', prompt: translate, variables: { text: 'x', extra: 'y' } },
          { id: 'i', prompt: summarize, variables: { text: '{{steps.a.json.x}} and {{bogus}}' } },
        ],
        output: { step: 'zzz' },
      },
    });
    expect(res.status).toBe(400);
    expect(res.body.error.code).toBe('INVALID_CHAIN');
    const details = res.body.error.details ?? [];
    const has = (field: string, text: string) =>
      expect(
        details.some((d) => d.field === field && d.message.includes(text)),
        `${field}: ${text}`,
      ).toBe(true);
    has('steps[3].id', "Duplicate step id 'a'");
    has('steps[4].dependsOn[0]', "Unknown step 'ghost'");
    expect(
      details.some(
        (d) => d.field === 'steps' && /Cycle: (a → c → b → a|b → a → c → b|c → b → a → c)/.test(d.message),
      ),
    ).toBe(true);
    has('steps[1].variables.text', "declares no 'nope'");
    has('steps[4].variables.text', "step 'e' is not a dependency of step 'd'");
    has('steps[5].prompt', "Unknown prompt 'no-such-prompt'");
    has('steps[6].version', 'has no version 99');
    has('steps[7].label', "has no version labelled 'staging'");
    has('steps[8].variables.lang', "requires variable 'lang'");
    has('steps[8].variables.extra', "does not declare variable 'extra'");
    has('steps[9].variables.text', "step 'a' is not a dependency of step 'i'");
    has('steps[9].variables.text', "'{{bogus}}' is not a reference");
    has('output.step', "Unknown step 'zzz'");
    expect(res.body.error.message).toMatch(/see details/);
  });

  it('a step that depends on itself, and more than 50 steps, are refused', async () => {
    const self = await call<ErrorBody>('POST', '/v1/workflows', {
      key: org.key,
      body: {
        name: unique('self'),
        steps: [{ id: 'a', prompt: summarize, dependsOn: ['a'], variables: { text: 'x' } }],
      },
    });
    expect(self.status).toBe(400);
    expect(self.body.error.details).toContainEqual({
      field: 'steps[0].dependsOn[0]',
      message: "Step 'a' depends on itself",
    });
    const steps = Array.from({ length: 51 }, (_, i) => ({
      id: `s${i}`,
      prompt: summarize,
      variables: { text: 'x' },
    }));
    const many = await call<ErrorBody>('POST', '/v1/workflows', {
      key: org.key,
      body: { name: unique('many'), steps },
    });
    expect(many.status).toBe(400);
    expect(many.body.error.code).toBe('VALIDATION_ERROR');
    expect(many.body.error.details?.[0]?.field).toBe('steps');
  });

  it('needs workflows:write to define; a prompt-restricted key may only use its prompts', async () => {
    const readOnly = await insertKey(sql, org.orgId, { scopes: ['runs:read', 'runs:execute'] });
    const refused = await call<ErrorBody>('POST', '/v1/workflows', { key: readOnly, body: twoSteps() });
    expect(refused.status).toBe(403);
    expect(refused.body.error.code).toBe('FORBIDDEN');
    const restricted = await insertKey(sql, org.orgId, {
      scopes: ['workflows:write'],
      promptIds: [await promptId(org.key, summarize)],
    });
    const other = await call<ErrorBody>('POST', '/v1/workflows', { key: restricted, body: twoSteps() });
    expect(other.status).toBe(403);
    const own = await call('POST', '/v1/workflows', {
      key: restricted,
      body: { name: unique('own'), steps: [{ id: 'a', prompt: summarize, variables: { text: 'x' } }] },
    });
    expect(own.status).toBe(201);
  });

  it('plan gates: a Free organization may neither define nor run chains', async () => {
    const free = await createOrg({ plan: 'free' });
    for (const [method, path] of [
      ['POST', '/v1/workflows'],
      ['GET', '/v1/workflows'],
      ['POST', '/v1/workflows/wf_x/runs'],
      ['GET', '/v1/workflow-runs'],
    ] as const) {
      const res = await call<ErrorBody>(method, path, {
        key: free.key,
        body: method === 'POST' ? {} : undefined,
      });
      expect(res.status, `${method} ${path}`).toBe(403);
      expect(res.body.error.code).toBe('API_NOT_ALLOWED');
    }
  });

  it('another organization gets 404 for the chain, by id and by name', async () => {
    const body = twoSteps();
    const created = await call<ChainBody>('POST', '/v1/workflows', { key: org.key, body });
    const other = await createOrg();
    for (const [method, path] of [
      ['GET', `/v1/workflows/${created.body.data.id}`],
      ['GET', `/v1/workflows/${body.name}`],
      ['PUT', `/v1/workflows/${created.body.data.id}`],
      ['DELETE', `/v1/workflows/${created.body.data.id}`],
      ['POST', `/v1/workflows/${created.body.data.id}/runs`],
    ] as const) {
      const res = await call<ErrorBody>(method, path, {
        key: other.key,
        body: method === 'PUT' ? body : method === 'POST' ? { input: { text: 'x' } } : undefined,
      });
      expect(res.status, `${method} ${path}`).toBe(404);
      expect(res.body.error.code).toBe('WORKFLOW_NOT_FOUND');
    }
  });
});
