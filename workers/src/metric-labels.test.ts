import { createHash } from 'node:crypto';
import { orgMetricTag } from '@promptmill/infra';
import { describe, expect, it } from 'vitest';
import { createMetricLabels, knownModelLabel } from './metric-labels.ts';
import { createWorkerMetrics } from './metrics.ts';

const sha = (s: string) => createHash('sha256').update(s).digest('hex');

describe('orgMetricTag', () => {
  it('is the first 8 hex characters of sha256(org id): stable, short, not the id', () => {
    expect(orgMetricTag('org_abc')).toBe(sha('org_abc').slice(0, 8));
    expect(orgMetricTag('org_abc')).toMatch(/^[0-9a-f]{8}$/);
    expect(orgMetricTag('org_abd')).not.toBe(orgMetricTag('org_abc'));
  });
});

describe('knownModelLabel: only models the deployment knows get their own label', () => {
  const known = knownModelLabel({
    prices: { 'gpt-4o': { input: 1, output: 1 }, 'mock-1': { input: 1, output: 1 } },
    providers: [{ models: ['llama-3.1-8b', 'claude-*', '*'] }],
  });

  it('a priced model or one a provider names exactly is itself', () => {
    expect(known('gpt-4o')).toBe('gpt-4o');
    expect(known('mock-1')).toBe('mock-1');
    expect(known('llama-3.1-8b')).toBe('llama-3.1-8b');
  });

  it('a dated snapshot of a priced model is its family (a tenant could invent any date)', () => {
    expect(known('gpt-4o-2024-08-06')).toBe('gpt-4o');
    expect(known('gpt-4o-0613')).toBe('gpt-4o');
  });

  it('anything else, including what a wildcard pattern would serve, is other', () => {
    expect(known('claude-made-up')).toBe('other');
    expect(known('my-secret-model-🙂')).toBe('other');
    expect(known('')).toBe('other');
  });
});

describe('createMetricLabels: the label budget', () => {
  const labels = () =>
    createMetricLabels({
      promptsPerOrg: 50,
      maxSeries: 10_000,
      knownModel: (m) => (m === 'mock-1' ? m : 'other'),
    });

  it('60 prompts of one org: 50 get their own label, the rest share <tag>/other; a known one keeps its label', () => {
    const l = labels();
    const tag = orgMetricTag('org_a');
    const values = new Set<string>();
    for (let i = 0; i < 60; i++) values.add(l.prompt('org_a', `p${i}`));
    expect(values.size).toBe(51);
    expect(values).toContain(`${tag}/p0`);
    expect(values).toContain(`${tag}/p49`);
    expect(values).toContain(`${tag}/other`);
    expect(values).not.toContain(`${tag}/p50`);
    expect(l.prompt('org_a', 'p3')).toBe(`${tag}/p3`);
    expect(l.prompt('org_a', 'p55')).toBe(`${tag}/other`);
  });

  it("each organization has its own budget, and two orgs' prompts of one name are two labels", () => {
    const l = labels();
    for (let i = 0; i < 60; i++) l.prompt('org_a', `p${i}`);
    expect(l.prompt('org_b', 'summarize')).toBe(`${orgMetricTag('org_b')}/summarize`);
    expect(l.prompt('org_c', 'summarize')).toBe(`${orgMetricTag('org_c')}/summarize`);
    expect(l.prompt('org_b', 'summarize')).not.toBe(l.prompt('org_c', 'summarize'));
  });

  it('versions: a number, at most 50 per prompt label, then other', () => {
    const l = labels();
    const prompt = l.prompt('org_a', 'p');
    const values = new Set<string>();
    for (let v = 1; v <= 70; v++) values.add(l.version(prompt, v));
    expect(values.size).toBe(51);
    expect(values).toContain('1');
    expect(values).toContain('other');
  });

  it('a global cap per metric: past maxSeries label sets, new ones have their open labels as other', () => {
    const l = createMetricLabels({ promptsPerOrg: 50, maxSeries: 3, knownModel: (m) => m });
    const open = ['prompt', 'model'] as const;
    const seen = [1, 2, 3, 4, 5].map((i) =>
      l.capped('runs', { prompt: `p${i}`, model: 'm', status: 'ok' }, open),
    );
    expect(seen.slice(0, 3).map((s) => s.prompt)).toEqual(['p1', 'p2', 'p3']);
    expect(seen[3]).toEqual({ prompt: 'other', model: 'other', status: 'ok' });
    expect(seen[4]).toEqual({ prompt: 'other', model: 'other', status: 'ok' });
    // a label set seen before the cap keeps its series
    expect(l.capped('runs', { prompt: 'p2', model: 'm', status: 'ok' }, open).prompt).toBe('p2');
    // each metric has its own count
    expect(l.capped('cost', { prompt: 'p9', model: 'm' }, open).prompt).toBe('p9');
  });
});

describe('worker metrics: what the activities record is bounded', () => {
  it('runs of 60 prompts of one org and an unknown model: ≤ 51 prompt labels, model other, no raw ids', async () => {
    const metrics = createWorkerMetrics({ knownModel: (m) => (m === 'mock-1' ? m : 'other') });
    const usage = { promptTokens: 3, completionTokens: 2, totalTokens: 5, cost: 0.001 };
    for (let i = 0; i < 60; i++) {
      metrics.recordRun(
        {
          orgId: 'org_tenant1',
          promptName: `prompt-${i}`,
          promptVersion: 1,
          model: i % 2 ? 'mock-1' : 'tenant-invented-model',
          status: 'succeeded',
          latencyMs: 10,
        },
        usage,
      );
    }
    metrics.observeProviderLatency('openai', 'tenant-invented-model', 0.2);
    const text = await metrics.registry.metrics();
    const prompts = new Set(
      [...text.matchAll(/^promptmill_runs_total\{prompt="([^"]*)"/gm)].map((m) => m[1]),
    );
    expect(prompts.size).toBe(51);
    expect(prompts).toContain(`${orgMetricTag('org_tenant1')}/other`);
    const models = new Set([...text.matchAll(/model="([^"]*)"/g)].map((m) => m[1]));
    expect([...models].sort()).toEqual(['mock-1', 'other']);
    expect(text).not.toContain('org_tenant1');
    expect(text).not.toContain('tenant-invented-model');
  });
});
