// A real Prometheus over the e2e stack: the project's scrape jobs (targets pointed at this stack's api and
// worker), its recording and alert rules, a 1 s scrape and evaluation interval, storage in a temp dir.
// After sync, failing, streaming and refused requests it checks that both targets are up, every rule
// evaluates without error, every recording rule and every dashboard query returns data, and every metric
// they read is served by the live api or worker. Queries that cannot have data in this stack are listed
// below with the reason; if one of them does get data, the list is out of date and the test says so.

import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { findPrometheus, type RunningPrometheus, startPrometheus } from '@promptmill/dev/prometheus';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { parse } from 'yaml';
import { DASHBOARDS, panelQueries, variableMetrics } from '../../infra/grafana/src/index.ts';
import { instantiate, parsePromql } from '../../infra/grafana/src/promql-parse.ts';
import { apiUrl, call, createOrg, createPrompt, type TestOrg, unique } from './helpers.ts';
import { createKey } from './limits-support.ts';
import { createEndpoint, startReceiver } from './webhook-support.ts';

const PROMETHEUS_DIR = fileURLToPath(new URL('../../infra/prometheus/', import.meta.url));
const workerMetricsUrl = inject('workerMetricsUrl');

const NO_WORKFLOW_FAILS =
  'a failed run completes its workflow (the run says failed); workflows fail only on a bug or termination';
const NO_RPC_FAILS = 'no request to the Temporal frontend fails in a healthy stack';

/** Dashboard queries (`<dashboard uid> / <panel title> / <refId>`) that cannot have data in this stack. */
const NO_DATA_PANELS: Record<string, string> = {
  'promptmill-temporal / Workflows by type and outcome / B': NO_WORKFLOW_FAILS,
  'promptmill-temporal / Temporal requests by operation / B': NO_RPC_FAILS,
};
/** Recording rules that cannot have data in this stack. */
const NO_DATA_RULES: Record<string, string> = {};
/** Metrics the ops files read that a live process serves only once the event happens. */
const NOT_YET_SERVED: Record<string, string> = {
  temporal_workflow_failed_total: NO_WORKFLOW_FAILS,
  temporal_request_failure_total: NO_RPC_FAILS,
};

interface Rule {
  record?: string;
  alert?: string;
  expr: string;
  labels?: Record<string, string>;
}
const ruleFiles = readdirSync(`${PROMETHEUS_DIR}rules`)
  .filter((f) => f.endsWith('.yml'))
  .map((f) => `${PROMETHEUS_DIR}rules/${f}`);
const rules: Rule[] = ruleFiles.flatMap((f) =>
  (parse(readFileSync(f, 'utf8')) as { groups: { rules: Rule[] }[] }).groups.flatMap((g) => g.rules),
);

/** infra/prometheus/prometheus.yml with this stack's addresses and a 1 s interval. */
function testConfig(): string {
  const base = parse(readFileSync(`${PROMETHEUS_DIR}prometheus.yml`, 'utf8')) as {
    scrape_configs: { job_name: string; metrics_path?: string }[];
  };
  const targets: Record<string, URL> = {
    'promptmill-api': new URL('/metrics', apiUrl),
    'promptmill-worker': new URL(workerMetricsUrl),
  };
  return JSON.stringify({
    global: { scrape_interval: '1s', scrape_timeout: '1s', evaluation_interval: '1s' },
    rule_files: ruleFiles,
    scrape_configs: base.scrape_configs.map((job) => {
      const url = targets[job.job_name];
      if (!url) throw new Error(`no e2e target for scrape job ${job.job_name}`);
      expect(job.metrics_path ?? '/metrics').toBe(url.pathname);
      return {
        job_name: job.job_name,
        metrics_path: url.pathname,
        static_configs: [{ targets: [url.host] }],
      };
    }),
  });
}

const UNLIMITED = { plan: 'enterprise', limits: { perMinute: 100_000, perDay: 1_000_000 } };

/** Retries `check` (which lists what is still missing) until nothing is, or the time is up; returns the last list. */
async function untilNoneMissing(
  check: () => Promise<string[]>,
  onMissing: () => Promise<void>,
  timeoutMs: number,
): Promise<string[]> {
  const deadline = Date.now() + timeoutMs;
  let lastTraffic = Date.now();
  for (;;) {
    const missing = await check();
    if (missing.length === 0 || Date.now() > deadline) return missing;
    // another test file may have restarted the worker (its series start over): make more traffic
    if (Date.now() - lastTraffic > 3_000) {
      await onMissing();
      lastTraffic = Date.now();
    }
    await new Promise((r) => setTimeout(r, 500));
  }
}

const found = findPrometheus();
const missingBinary = 'missing' in found ? found.missing : undefined;
if (missingBinary) console.warn(`[prometheus e2e] SKIPPED: ${missingBinary}`);

describe.skipIf(missingBinary !== undefined)('a real Prometheus over the e2e stack', () => {
  let prom: RunningPrometheus;
  let org: TestOrg;
  let prompt: string;
  const log: string[] = [];

  /** A sync success, a provider failure (400, not retried), a streaming run, a 404, a 401 and a 429. */
  async function traffic(): Promise<void> {
    const run = (variables: Record<string, string>, stream = false) =>
      call('POST', '/api/v1/run', { key: org.key, body: { promptName: prompt, variables, stream } });
    const statuses = [
      (await run({ text: 'hello' })).status,
      (await run({ text: '[[mock:fail=400]]' })).status,
      (await run({ text: 'streamed' }, true)).status,
      (
        await call('POST', '/api/v1/run', {
          key: org.key,
          body: { promptName: unique('none'), variables: {} },
        })
      ).status,
      (await call('GET', '/v1/me', { key: 'pm_live_not-a-key' })).status,
    ];
    expect(statuses).toEqual([200, 502, 200, 404, 401]);
    const limited = await createKey(org.key, { rateLimits: { perMinute: 1 } });
    const limitedStatuses = [
      (await call('GET', '/v1/me', { key: limited.key })).status,
      (await call('GET', '/v1/me', { key: limited.key })).status,
    ];
    expect(limitedStatuses).toEqual([200, 429]);
  }

  beforeAll(async () => {
    if ('missing' in found) return;
    prom = await startPrometheus(found.prometheus, testConfig(), (l) => log.push(l));
    org = await createOrg(UNLIMITED);
    prompt = await createPrompt(org.key, { template: 'Echo: {{text}}' });
    // the runs' events go to a local receiver that refuses every other delivery: both outcomes
    const receiver = await startReceiver((n) => (n % 2 ? 500 : 200));
    await createEndpoint(org.key, { url: receiver.url, events: ['prompt.executed', 'prompt.failed'] });
    await traffic();
  });

  afterAll(async () => {
    await prom?.stop();
  });

  it('scrapes the api and the worker (both jobs up)', async () => {
    const missing = await untilNoneMissing(
      async () => {
        const r = await prom.query('up == 1');
        const up = r.ok ? r.series.map((s) => s.metric.job) : [];
        return ['promptmill-api', 'promptmill-worker'].filter((job) => !up.includes(job));
      },
      async () => {},
      15_000,
    );
    expect(missing, log.join('')).toEqual([]);
  });

  it('loads every rule of infra/prometheus/rules and evaluates each without error', async () => {
    type RulesBody = {
      data: { groups: { rules: { name: string; type: string; health: string; lastError?: string }[] }[] };
    };
    const problems = await untilNoneMissing(
      async () => {
        const loaded = (await prom.get<RulesBody>('/api/v1/rules')).data.groups.flatMap((g) => g.rules);
        const expected = rules.map((r) => r.record ?? r.alert!);
        return [
          ...expected.filter((name) => !loaded.some((l) => l.name === name)).map((n) => `not loaded: ${n}`),
          ...loaded
            .filter((l) => l.health !== 'ok')
            .map((l) => `${l.name}: ${l.health} ${l.lastError ?? ''}`),
        ];
      },
      async () => {},
      10_000,
    );
    expect(problems).toEqual([]);
  });

  it('every recording rule returns data (except the listed ones, which must not)', async () => {
    const records = rules.filter((r) => r.record);
    const selector = (r: Rule) =>
      `${r.record}{${Object.entries(r.labels ?? {})
        .map(([k, v]) => `${k}="${v}"`)
        .join(',')}}`;
    const missing = await untilNoneMissing(
      async () => {
        const empty: string[] = [];
        for (const r of records) {
          if (NO_DATA_RULES[r.record!]) continue;
          const res = await prom.query(selector(r));
          if (!res.ok || res.series.length === 0) empty.push(selector(r));
        }
        return empty;
      },
      traffic,
      25_000,
    );
    expect(missing).toEqual([]);
    for (const [record, reason] of Object.entries(NO_DATA_RULES)) {
      expect(records.map((r) => r.record)).toContain(record);
      const res = await prom.query(record);
      expect(
        res.ok && res.series.length,
        `${record} has data now: remove it from NO_DATA_RULES (${reason})`,
      ).toBe(0);
    }
  });

  it('every dashboard query parses in Prometheus and returns data (except the listed ones)', async () => {
    const queries = DASHBOARDS.flatMap(({ build }) => panelQueries(build())).map((q) => ({
      ...q,
      id: `${q.dashboard} / ${q.panel} / ${q.refId}`,
      // Grafana's $__rate_interval is at least 4 scrapes: 4 s here; a wider window only smooths
      promql: instantiate(q.expr, { rateInterval: '30s', range: '10m' }),
    }));
    for (const id of Object.keys(NO_DATA_PANELS)) expect(queries.map((q) => q.id)).toContain(id);
    const missing = await untilNoneMissing(
      async () => {
        const empty: string[] = [];
        for (const q of queries) {
          const res = await prom.query(q.promql);
          if (!res.ok) empty.push(`${q.id}: ${res.error}`);
          else if (res.series.length === 0 && !NO_DATA_PANELS[q.id])
            empty.push(`${q.id}: no series: ${q.promql}`);
        }
        return empty;
      },
      traffic,
      25_000,
    );
    expect(missing).toEqual([]);
    for (const [id, reason] of Object.entries(NO_DATA_PANELS)) {
      const q = queries.find((x) => x.id === id)!;
      const res = await prom.query(q.promql);
      expect(
        res.ok && res.series.length,
        `${id} has data now: remove it from NO_DATA_PANELS (${reason})`,
      ).toBe(0);
    }
  });

  it('every metric a dashboard or a rule reads is served by the live api or worker', async () => {
    const served = async () => {
      const texts = await Promise.all([
        fetch(`${apiUrl}/metrics`).then((r) => r.text()),
        fetch(workerMetricsUrl).then((r) => r.text()),
      ]);
      const names = new Set<string>();
      for (const line of texts.join('\n').split('\n')) {
        const m = /^# TYPE (\S+) (\S+)/.exec(line) ?? /^([a-zA-Z_:][a-zA-Z0-9_:]*)[{ ]/.exec(line);
        if (!m) continue;
        names.add(m[1]!);
        if (m[2] === 'histogram') for (const s of ['_bucket', '_sum', '_count']) names.add(`${m[1]}${s}`);
      }
      return names;
    };
    const recorded = new Set(rules.flatMap((r) => (r.record ? [r.record] : [])));
    const read = new Set([
      ...DASHBOARDS.flatMap(({ build }) => {
        const d = build();
        return [
          ...panelQueries(d).flatMap((q) => parsePromql(instantiate(q.expr)).metrics),
          ...variableMetrics(d),
        ];
      }),
      ...rules.flatMap((r) => parsePromql(r.expr).metrics),
    ]);
    const wanted = [...read].filter((m) => m !== 'up' && !recorded.has(m) && !NOT_YET_SERVED[m]);
    const missing = await untilNoneMissing(
      async () => {
        const names = await served();
        return wanted.filter((m) => !names.has(m));
      },
      traffic,
      15_000,
    );
    expect(missing).toEqual([]);
    const names = await served();
    for (const [metric, reason] of Object.entries(NOT_YET_SERVED)) {
      expect(read.has(metric), `${metric} is listed but no ops file reads it`).toBe(true);
      expect(names.has(metric), `${metric} is served now: remove it from NOT_YET_SERVED (${reason})`).toBe(
        false,
      );
    }
  });
});
