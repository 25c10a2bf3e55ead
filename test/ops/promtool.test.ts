// infra/prometheus checked by Prometheus' own tool: the scrape config, the rule files, and the rule unit
// tests (infra/prometheus/tests/*.test.yml). promtool comes from scripts/setup.sh (Debian's prometheus
// package unpacked into .venv/prometheus); where it could not be installed these tests skip and say so.
// The file checks below it need no binary: every alert has a firing unit test and a runbook, every
// recording rule a unit test.

import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { findPrometheus } from '@promptmill/dev/prometheus';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';

const DIR = fileURLToPath(new URL('../../infra/prometheus/', import.meta.url));
const ruleFiles = readdirSync(`${DIR}rules`)
  .filter((f) => f.endsWith('.yml'))
  .map((f) => `${DIR}rules/${f}`);
const testFiles = readdirSync(`${DIR}tests`)
  .filter((f) => f.endsWith('.test.yml'))
  .map((f) => `${DIR}tests/${f}`);

const found = findPrometheus();
const missing = 'missing' in found ? found.missing : undefined;
if (missing) console.warn(`[promtool] SKIPPED: ${missing}`);

function promtool(...args: string[]) {
  if ('missing' in found) throw new Error(found.missing);
  const out = spawnSync(found.promtool, args, { encoding: 'utf8', cwd: DIR });
  return { status: out.status, output: `${out.stdout}${out.stderr}` };
}

describe.skipIf(missing !== undefined)('promtool', () => {
  it('check config: prometheus.yml is valid and finds every rule file', () => {
    const r = promtool('check', 'config', 'prometheus.yml');
    expect(r.output).toContain(`SUCCESS: ${ruleFiles.length} rule files found`);
    expect(r.status, r.output).toBe(0);
  });

  it('check rules: every rule file parses, with valid PromQL and templates', () => {
    const r = promtool('check', 'rules', ...ruleFiles);
    expect(r.status, r.output).toBe(0);
  });

  it('test rules: the recording and alert rule unit tests pass', () => {
    const r = promtool('test', 'rules', ...testFiles);
    expect(r.output).not.toContain('FAILED');
    expect(r.status, r.output).toBe(0);
  });
});

interface Rule {
  record?: string;
  alert?: string;
  expr: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}
interface RuleTests {
  tests: {
    promql_expr_test?: { expr: string }[];
    alert_rule_test?: { alertname: string; exp_alerts: unknown[] }[];
  }[];
}

const rules: Rule[] = ruleFiles.flatMap((f) =>
  (parse(readFileSync(f, 'utf8')) as { groups: { rules: Rule[] }[] }).groups.flatMap((g) => g.rules),
);
const tests = testFiles.flatMap((f) => (parse(readFileSync(f, 'utf8')) as RuleTests).tests);

describe('rule files', () => {
  const alerts = rules.filter((r) => r.alert);

  it('cover the alerts the operator issue asks for', () => {
    const names = alerts.map((a) => a.alert);
    for (const name of [
      'PromptmillApiErrorRatio', // error ratio
      'PromptmillRunErrorRatio',
      'PromptmillProviderLatencyHigh', // provider latency
      'PromptmillWebhookFailures', // webhook failures
      'PromptmillRateLimitSaturation', // rate-limit saturation
      'PromptmillWorkerDown', // worker down
      'PromptmillNoWorker',
      'PromptmillRunBacklog', // run backlog
    ]) {
      expect(names).toContain(name);
    }
  });

  it('every alert has a severity, a summary and a runbook', () => {
    for (const a of alerts) {
      expect(['warning', 'critical'], a.alert).toContain(a.labels?.severity);
      expect(a.annotations?.summary, a.alert).toBeTruthy();
      expect(a.annotations?.runbook?.length ?? 0, a.alert).toBeGreaterThan(40);
    }
  });

  it('every alert has a unit test in which it fires', () => {
    const firing = new Set(
      tests.flatMap((t) =>
        (t.alert_rule_test ?? []).filter((c) => c.exp_alerts.length > 0).map((c) => c.alertname),
      ),
    );
    expect(alerts.map((a) => a.alert).filter((name) => !firing.has(name!))).toEqual([]);
  });

  it("the README's Operations section lists every alert", () => {
    const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
    const operations = readme.slice(readme.indexOf('## Operations'), readme.indexOf('## Benchmarks'));
    expect(alerts.map((a) => a.alert).filter((name) => !operations.includes(`\`${name}\``))).toEqual([]);
  });

  it('every recording rule has a unit test', () => {
    const tested = tests.flatMap((t) => (t.promql_expr_test ?? []).map((c) => c.expr)).join('\n');
    const records = [...new Set(rules.flatMap((r) => (r.record ? [r.record] : [])))];
    expect(records.filter((name) => !tested.includes(name))).toEqual([]);
  });
});
