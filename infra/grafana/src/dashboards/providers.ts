import { dashboard, labelVariable, Row, timeSeries } from '../panels.ts';
import { quantile, ratio, sumRate } from '../promql.ts';

const PM = 'provider=~"$provider", model=~"$model"';
const M = 'model=~"$model"';

/** Model providers: call latency, call volume, failures, tokens and cost per model. */
export function providersDashboard() {
  return dashboard(
    'promptmill-providers',
    'Promptmill providers',
    'Model providers as the workers see them: latency and volume of calls, run failures, tokens and cost per model.',
  )
    .withVariable(labelVariable('provider', 'provider', 'promptmill_provider_latency_seconds_count'))
    .withVariable(labelVariable('model', 'model', 'promptmill_provider_latency_seconds_count'))
    .withRow(new Row('Calls'))
    .withPanel(
      timeSeries(
        'Provider latency p50 / p95 / p99',
        'One provider call, by provider (alert PromptmillProviderLatencyHigh: p95 above 20 s).',
        's',
        [
          {
            expr: quantile(0.5, 'promptmill_provider_latency_seconds', 'provider', PM),
            legend: 'p50 {{provider}}',
          },
          {
            expr: quantile(0.95, 'promptmill_provider_latency_seconds', 'provider', PM),
            legend: 'p95 {{provider}}',
          },
          {
            expr: quantile(0.99, 'promptmill_provider_latency_seconds', 'provider', PM),
            legend: 'p99 {{provider}}',
          },
        ],
      ),
    )
    .withPanel(
      timeSeries(
        'Provider latency p95 by model',
        'Models the deployment does not know (no price, no exact provider entry) are `other`.',
        's',
        [
          {
            expr: quantile(0.95, 'promptmill_provider_latency_seconds', 'provider, model', PM),
            legend: '{{provider}} {{model}}',
          },
        ],
      ),
    )
    .withPanel(
      timeSeries(
        'Calls by provider and model',
        'Provider calls per second, retries and fallbacks included.',
        'ops',
        [
          {
            expr: sumRate('promptmill_provider_latency_seconds_count', 'provider, model', PM),
            legend: '{{provider}} {{model}}',
          },
        ],
        { stacked: true },
      ),
    )
    .withPanel(
      timeSeries(
        'Run failure ratio by model',
        'Runs that failed after retries and fallbacks (alert PromptmillRunErrorRatio above 10%).',
        'percentunit',
        [{ expr: ratio('promptmill_runs_total', 'status="failed"', 'model', M), legend: '{{model}}' }],
        { min: 0 },
      ),
    )
    .withRow(new Row('Usage'))
    .withPanel(
      timeSeries(
        'Tokens by model and kind',
        'Tokens per second.',
        'short',
        [{ expr: sumRate('promptmill_tokens_total', 'model, kind', M), legend: '{{model}} {{kind}}' }],
        { stacked: true },
      ),
    )
    .withPanel(
      timeSeries(
        'Cost by model (USD / h)',
        'Spend rate per model.',
        'currencyUSD',
        [{ expr: sumRate('promptmill_cost_usd_total', 'model', M, 3600), legend: '{{model}}' }],
        { stacked: true },
      ),
    );
}
