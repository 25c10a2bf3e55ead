import { dashboard, labelVariable, note, Row, timeSeries, totalsTable } from '../panels.ts';
import { quantile, ratio, sumRate } from '../promql.ts';

const P = 'prompt=~"$prompt", model=~"$model"';

/** Per prompt and version: traffic, failures, duration, tokens, cost. */
export function promptsDashboard() {
  return dashboard(
    'promptmill-prompts',
    'Promptmill prompts and versions',
    'Runs per prompt and version. Prompt labels are `<org tag>/<name>`; an organization finds its tag in GET /v1/me.',
  )
    .withVariable(labelVariable('prompt', 'prompt', 'promptmill_runs_total'))
    .withVariable(labelVariable('model', 'model', 'promptmill_runs_total'))
    .withPanel(
      note(
        'Reading prompt labels',
        'A prompt label is `<org tag>/<prompt name>`: the org tag is the first 8 hex characters of ' +
          'sha256(organization id), shown to the organization as `organization.metricsTag` in `GET /v1/me`. ' +
          'Type `a1b2c3d4/.*` in the prompt box to see one organization. Each worker labels at most ' +
          '`METRICS_PROMPT_LABELS_PER_ORG` prompts (and versions per prompt) per organization; the rest count ' +
          'under `<org tag>/other` and version `other`.',
        { h: 3 },
      ),
    )
    .withRow(new Row('Runs'))
    .withPanel(
      timeSeries(
        'Runs by prompt and version',
        'Finished runs per second.',
        'ops',
        [{ expr: sumRate('promptmill_runs_total', 'prompt, version', P), legend: '{{prompt}} v{{version}}' }],
        { stacked: true },
      ),
    )
    .withPanel(
      timeSeries(
        'Failure ratio by prompt',
        'Share of finished runs that failed (after retries and fallbacks).',
        'percentunit',
        [{ expr: ratio('promptmill_runs_total', 'status="failed"', 'prompt', P), legend: '{{prompt}}' }],
        { min: 0 },
      ),
    )
    .withPanel(
      timeSeries(
        'Failed runs by prompt and version',
        'A new version that fails more than the one before is the first thing to look for here.',
        'ops',
        [
          {
            expr: sumRate('promptmill_runs_total', 'prompt, version', `${P}, status="failed"`),
            legend: '{{prompt}} v{{version}}',
          },
        ],
      ),
    )
    .withPanel(
      timeSeries('Run duration p95 by prompt', 'From workflow start to completion.', 's', [
        { expr: quantile(0.95, 'promptmill_run_duration_seconds', 'prompt', P), legend: '{{prompt}}' },
      ]),
    )
    .withRow(new Row('Tokens and cost'))
    .withPanel(
      timeSeries(
        'Tokens by prompt and kind',
        'Tokens per second; kind is prompt or completion.',
        'short',
        [{ expr: sumRate('promptmill_tokens_total', 'prompt, kind', P), legend: '{{prompt}} {{kind}}' }],
        { stacked: true },
      ),
    )
    .withPanel(
      timeSeries(
        'Cost by prompt (USD / h)',
        'Spend rate per prompt.',
        'currencyUSD',
        [{ expr: sumRate('promptmill_cost_usd_total', 'prompt', P, 3600), legend: '{{prompt}}' }],
        { stacked: true },
      ),
    )
    .withRow(new Row('Totals over the time range'))
    .withPanel(
      totalsTable('Runs by prompt, version, model and status', 'Runs finished in the selected time range.', {
        expr: `sum by (prompt, version, model, status) (round(increase(promptmill_runs_total{${P}}[$__range])))`,
      }),
    );
}
