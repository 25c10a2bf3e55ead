/**
 * The few panel shapes the Promptmill dashboards use, on top of @grafana/grafana-foundation-sdk, so
 * each dashboard file reads as a list of questions and their PromQL.
 *
 * Conventions the tests rely on (test/ops/dashboards.test.ts, test/e2e/prometheus.test.ts):
 * - every query goes to the provisioned Prometheus datasource (uid `prometheus`);
 * - a dashboard variable is used only as a regex matcher, `label=~"$name"`, and its "All" value is `.*`;
 * - windows are `$__rate_interval` (Grafana's: at least four scrapes) or `$__range` for totals.
 */
import * as common from '@grafana/grafana-foundation-sdk/common';
import {
  DashboardBuilder as Dashboard,
  DashboardCursorSync,
  QueryVariableBuilder,
  RowBuilder,
  VariableRefresh,
  VariableSort,
} from '@grafana/grafana-foundation-sdk/dashboard';
import { DataqueryBuilder, PromQueryFormat } from '@grafana/grafana-foundation-sdk/prometheus';
import * as stat from '@grafana/grafana-foundation-sdk/stat';
import * as table from '@grafana/grafana-foundation-sdk/table';
import * as text from '@grafana/grafana-foundation-sdk/text';
import * as timeseries from '@grafana/grafana-foundation-sdk/timeseries';

/** The datasource provisioned by infra/grafana/provisioning/datasources/prometheus.yml. */
export const DATASOURCE = { type: 'prometheus', uid: 'prometheus' };

export { RowBuilder as Row };

export interface Query {
  expr: string;
  legend?: string;
}

type PanelSize = { w?: number; h?: number };

const REF_IDS = 'ABCDEFGHIJ';

function targets(queries: Query[], opts: { instant?: boolean; table?: boolean } = {}) {
  return queries.map((q, i) => {
    const b = new DataqueryBuilder()
      .datasource(DATASOURCE)
      .expr(q.expr)
      .refId(REF_IDS[i]!)
      .legendFormat(q.legend ?? '__auto');
    if (opts.instant) b.instant();
    else b.range();
    if (opts.table) b.format(PromQueryFormat.Table);
    return b;
  });
}

export function timeSeries(
  title: string,
  description: string,
  unit: string,
  queries: Query[],
  opts: PanelSize & { stacked?: boolean; min?: number } = {},
) {
  const panel = new timeseries.PanelBuilder()
    .title(title)
    .description(description)
    .datasource(DATASOURCE)
    .unit(unit)
    .span(opts.w ?? 12)
    .height(opts.h ?? 8)
    .targets(targets(queries))
    .fillOpacity(opts.stacked ? 40 : 10)
    .legend(
      new common.VizLegendOptionsBuilder()
        .displayMode(common.LegendDisplayMode.List)
        .placement(common.LegendPlacement.Bottom)
        .showLegend(true),
    )
    .tooltip(
      new common.VizTooltipOptionsBuilder()
        .mode(common.TooltipDisplayMode.Multi)
        .sort(common.SortOrder.Descending),
    );
  if (opts.min !== undefined) panel.min(opts.min);
  if (opts.stacked) panel.stacking(new common.StackingConfigBuilder().mode(common.StackingMode.Normal));
  return panel;
}

export function singleStat(
  title: string,
  description: string,
  unit: string,
  query: Query,
  opts: PanelSize = {},
) {
  return new stat.PanelBuilder()
    .title(title)
    .description(description)
    .datasource(DATASOURCE)
    .unit(unit)
    .span(opts.w ?? 4)
    .height(opts.h ?? 4)
    .targets(targets([query], { instant: true }))
    .graphMode(common.BigValueGraphMode.None)
    .colorMode(common.BigValueColorMode.Value)
    .reduceOptions(new common.ReduceDataOptionsBuilder().calcs(['lastNotNull']))
    .noValue('0');
}

export function totalsTable(title: string, description: string, query: Query, opts: PanelSize = {}) {
  return new table.PanelBuilder()
    .title(title)
    .description(description)
    .datasource(DATASOURCE)
    .span(opts.w ?? 24)
    .height(opts.h ?? 8)
    .targets(targets([query], { instant: true, table: true }))
    .withTransformation({ id: 'organize', options: { excludeByName: { Time: true } } });
}

export function note(title: string, markdown: string, opts: PanelSize = {}) {
  return new text.PanelBuilder()
    .title(title)
    .mode(text.TextMode.Markdown)
    .content(markdown)
    .span(opts.w ?? 24)
    .height(opts.h ?? 4);
}

/** A multi-value variable over one label of one metric; "All" is `.*` (queries use `=~"$name"`). */
export function labelVariable(name: string, label: string, metric: string, opts: { regex?: string } = {}) {
  const query = `label_values(${metric}, ${label})`;
  const v = new QueryVariableBuilder(name)
    .label(label)
    .datasource(DATASOURCE)
    .query({ query, refId: 'PrometheusVariableQueryEditor-VariableQuery', qryType: 1 })
    .definition(query)
    .refresh(VariableRefresh.OnTimeRangeChanged)
    .sort(VariableSort.AlphabeticalAsc)
    .multi(true)
    .includeAll(true)
    .allValue('.*')
    .current({ text: 'All', value: '$__all' });
  if (opts.regex) v.regex(opts.regex);
  return v;
}

export function dashboard(uid: string, title: string, description: string) {
  return new Dashboard(title)
    .uid(uid)
    .description(description)
    .tags(['promptmill'])
    .editable()
    .tooltip(DashboardCursorSync.Crosshair)
    .time({ from: 'now-3h', to: 'now' })
    .refresh('30s')
    .timezone('browser');
}
