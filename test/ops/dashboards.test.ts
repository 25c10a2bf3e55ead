// Dashboards as code (infra/grafana/src): the committed JSON is the generator's output, every panel's
// PromQL parses, and every metric a dashboard or a Prometheus rule reads is one the code exports (the api's
// and the worker's prom-client registries, and the Temporal SDK metrics the worker bridges). A live check
// of the same against a real Prometheus and stack is test/e2e/prometheus.test.ts.

import { readdirSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { createApiMetrics } from '../../api/src/http/metrics.ts';
import { DASHBOARDS, dashboardJson, panelQueries, variableMetrics } from '../../infra/grafana/src/index.ts';
import { instantiate, parsePromql } from '../../infra/grafana/src/promql-parse.ts';
import { createWorkerMetrics } from '../../workers/src/metrics.ts';
import { TEMPORAL_OPS_METRICS } from '../../workers/src/temporal-metrics.ts';

const GRAFANA = new URL('../../infra/grafana/', import.meta.url);
const PROMETHEUS = new URL('../../infra/prometheus/', import.meta.url);

const built = DASHBOARDS.map(({ file, build }) => ({ file, dashboard: build() }));

/** Series names as Prometheus stores them: a histogram is its _bucket, _sum and _count. */
async function exportedSeries(): Promise<Set<string>> {
  // `up` is Prometheus' own, one per scraped target
  const names = new Set<string>(['up']);
  const add = (name: string, type: string) => {
    if (type === 'histogram') for (const s of ['_bucket', '_sum', '_count']) names.add(`${name}${s}`);
    else if (type === 'summary') for (const s of ['', '_sum', '_count']) names.add(`${name}${s}`);
    else names.add(name);
  };
  for (const { registry } of [createApiMetrics(), createWorkerMetrics()]) {
    for (const m of await registry.getMetricsAsJSON()) add(m.name, String(m.type));
  }
  for (const [name, kind] of Object.entries(TEMPORAL_OPS_METRICS)) add(name, kind);
  return names;
}

interface Rule {
  record?: string;
  alert?: string;
  expr: string;
}
const rules: Rule[] = readdirSync(new URL('rules/', PROMETHEUS))
  .filter((f) => f.endsWith('.yml'))
  .flatMap((f) =>
    (
      parse(readFileSync(new URL(`rules/${f}`, PROMETHEUS), 'utf8')) as { groups: { rules: Rule[] }[] }
    ).groups.flatMap((g) => g.rules),
  );
const recorded = new Set(rules.flatMap((r) => (r.record ? [r.record] : [])));

describe('infra/grafana/dashboards', () => {
  it('is exactly what `npm run dashboards` writes (edit infra/grafana/src, then regenerate)', () => {
    for (const { file, dashboard } of built) {
      const committed = readFileSync(new URL(`dashboards/${file}`, GRAFANA), 'utf8');
      expect(committed, `${file} differs from its generator: run npm run dashboards`).toBe(
        dashboardJson(dashboard),
      );
    }
    const files = readdirSync(new URL('dashboards/', GRAFANA)).sort();
    expect(files, 'a JSON file no generator writes').toEqual(built.map((b) => b.file).sort());
  });

  it('covers overview, prompts and versions, keys, providers, webhooks and Temporal workers', () => {
    expect(built.map((b) => b.dashboard.uid)).toEqual([
      'promptmill-overview',
      'promptmill-prompts',
      'promptmill-keys',
      'promptmill-providers',
      'promptmill-webhooks',
      'promptmill-temporal',
    ]);
    for (const { dashboard } of built)
      expect(panelQueries(dashboard).length, dashboard.uid).toBeGreaterThan(0);
  });

  it("the README's Operations section describes every dashboard", () => {
    const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
    const operations = readme.slice(readme.indexOf('## Operations'), readme.indexOf('## Benchmarks'));
    expect(built.map((b) => b.dashboard.title).filter((t) => !operations.includes(`*${t}*`))).toEqual([]);
  });

  it("every panel's PromQL parses", () => {
    const bad = built.flatMap(({ dashboard }) =>
      panelQueries(dashboard).flatMap((q) => {
        const { errors } = parsePromql(instantiate(q.expr));
        return errors.length > 0
          ? [`${q.dashboard} / ${q.panel} / ${q.refId}: ${errors.join('; ')}: ${q.expr}`]
          : [];
      }),
    );
    expect(bad).toEqual([]);
  });

  it('uses only metrics the code exports (panels and variables)', async () => {
    const exported = await exportedSeries();
    const unknown = built.flatMap(({ dashboard }) => [
      ...panelQueries(dashboard).flatMap((q) =>
        parsePromql(instantiate(q.expr))
          .metrics.filter((m) => !exported.has(m) && !recorded.has(m))
          .map((m) => `${q.dashboard} / ${q.panel}: ${m}`),
      ),
      ...variableMetrics(dashboard)
        .filter((m) => !exported.has(m))
        .map((m) => `${dashboard.uid} variable: ${m}`),
    ]);
    expect(unknown).toEqual([]);
    // the parser does find names (a check that found none would pass anything)
    expect(parsePromql(instantiate(panelQueries(built[0]!.dashboard)[0]!.expr)).metrics).toEqual([
      'promptmill_http_requests_total',
    ]);
  });

  it('uses variables only as regex matchers (`label=~"$name"`), and only ones it defines', () => {
    for (const { dashboard } of built) {
      const defined = new Set((dashboard.templating?.list ?? []).map((v) => v.name));
      for (const q of panelQueries(dashboard)) {
        for (const [, name] of q.expr.matchAll(/\$\{?([A-Za-z][A-Za-z0-9_]*)/g)) {
          expect(defined, `${q.dashboard} / ${q.panel}: $${name}`).toContain(name);
          expect(q.expr, `${q.dashboard} / ${q.panel}`).toMatch(new RegExp(`=~"\\$${name}"`));
        }
      }
      for (const v of dashboard.templating?.list ?? []) expect(v.allValue, v.name).toBe('.*');
    }
  });

  it('queries the provisioned Prometheus datasource, with unique panel ids and a description per panel', () => {
    const provisioned = parse(
      readFileSync(new URL('provisioning/datasources/prometheus.yml', GRAFANA), 'utf8'),
    ) as { datasources: { uid: string; type: string }[] };
    const uid = provisioned.datasources[0]!.uid;
    for (const { dashboard } of built) {
      const panels = (dashboard.panels ?? []) as {
        id?: number;
        type: string;
        title?: string;
        description?: string;
        datasource?: { uid?: string };
        targets?: { datasource?: { uid?: string } }[];
      }[];
      const ids = panels.map((p) => p.id);
      expect(new Set(ids).size, dashboard.uid).toBe(ids.length);
      for (const p of panels.filter((p) => p.targets)) {
        expect(p.datasource?.uid, p.title).toBe(uid);
        for (const t of p.targets ?? []) expect(t.datasource?.uid, p.title).toBe(uid);
        expect(p.description?.length ?? 0, `${dashboard.uid} / ${p.title}`).toBeGreaterThan(10);
      }
    }
  });
});

describe('infra/prometheus/rules', () => {
  it('read only metrics the code exports, or series other rules record', async () => {
    const exported = await exportedSeries();
    const unknown = rules.flatMap((r) => {
      const { errors, metrics } = parsePromql(r.expr);
      expect(errors, r.record ?? r.alert).toEqual([]);
      return metrics
        .filter((m) => !exported.has(m) && !recorded.has(m))
        .map((m) => `${r.record ?? r.alert}: ${m}`);
    });
    expect(unknown).toEqual([]);
  });
});
