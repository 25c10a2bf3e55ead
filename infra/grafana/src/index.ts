/**
 * Promptmill's Grafana dashboards, as code. `npm run dashboards` writes each to
 * infra/grafana/dashboards/<file> (committed; Grafana provisions that folder), and
 * test/ops/dashboards.test.ts fails when the committed JSON and this code differ.
 */
import type { Dashboard } from '@grafana/grafana-foundation-sdk/dashboard';
import { keysDashboard } from './dashboards/keys.ts';
import { overviewDashboard } from './dashboards/overview.ts';
import { promptsDashboard } from './dashboards/prompts.ts';
import { providersDashboard } from './dashboards/providers.ts';
import { temporalDashboard } from './dashboards/temporal.ts';
import { webhooksDashboard } from './dashboards/webhooks.ts';

export const DASHBOARDS: { file: string; build: () => Dashboard }[] = [
  { file: 'promptmill-overview.json', build: () => numbered(overviewDashboard().build()) },
  { file: 'promptmill-prompts.json', build: () => numbered(promptsDashboard().build()) },
  { file: 'promptmill-keys.json', build: () => numbered(keysDashboard().build()) },
  { file: 'promptmill-providers.json', build: () => numbered(providersDashboard().build()) },
  { file: 'promptmill-webhooks.json', build: () => numbered(webhooksDashboard().build()) },
  { file: 'promptmill-temporal.json', build: () => numbered(temporalDashboard().build()) },
];

/** Panel ids 1, 2, 3… in layout order (the builders leave them out or at 0; Grafana wants them unique). */
function numbered(d: Dashboard): Dashboard {
  let id = 1;
  const visit = (panels: { id?: number; panels?: unknown[] }[] | undefined) => {
    for (const p of panels ?? []) {
      p.id = id++;
      visit(p.panels as { id?: number }[] | undefined);
    }
  };
  visit(d.panels as { id?: number }[] | undefined);
  return d;
}

/** The file's text: stable key order from the builders, two-space indent, final newline. */
export const dashboardJson = (d: Dashboard): string => `${JSON.stringify(d, null, 2)}\n`;

export interface PanelQuery {
  dashboard: string;
  panel: string;
  refId: string;
  expr: string;
}

interface PanelLike {
  title?: string;
  type?: string;
  targets?: { refId?: string; expr?: string }[];
  panels?: PanelLike[];
}

/** Every PromQL expression of every panel (rows included). */
export function panelQueries(d: Dashboard): PanelQuery[] {
  const out: PanelQuery[] = [];
  const visit = (panels: PanelLike[] | undefined) => {
    for (const p of panels ?? []) {
      for (const t of p.targets ?? []) {
        if (t.expr !== undefined)
          out.push({
            dashboard: d.uid ?? d.title ?? '',
            panel: p.title ?? '',
            refId: t.refId ?? '',
            expr: t.expr,
          });
      }
      visit(p.panels);
    }
  };
  visit(d.panels as PanelLike[] | undefined);
  return out;
}

/** The metric each `label_values(metric, label)` variable reads. */
export function variableMetrics(d: Dashboard): string[] {
  return (d.templating?.list ?? []).flatMap((v) => {
    const m = /^label_values\(([a-zA-Z_:][a-zA-Z0-9_:]*),/.exec(String(v.definition ?? ''));
    return m ? [m[1]!] : [];
  });
}
