import { dashboard, Row, singleStat, timeSeries } from '../panels.ts';
import { quantile, ratio, sumRate } from '../promql.ts';

/** The first screen: is Promptmill serving, how fast, how often it fails, what it costs. */
export function overviewDashboard() {
  return dashboard(
    'promptmill-overview',
    'Promptmill overview',
    'Traffic, latency, errors, runs, tokens and cost across every api and worker process.',
  )
    .withRow(new Row('Now'))
    .withPanel(
      singleStat('Requests / s', 'All api requests, every route and status.', 'reqps', {
        expr: sumRate('promptmill_http_requests_total', ''),
      }),
    )
    .withPanel(
      singleStat('5xx ratio', 'Share of api responses that are 5xx.', 'percentunit', {
        expr: ratio('promptmill_http_requests_total', 'status=~"5.."', ''),
      }),
    )
    .withPanel(
      singleStat('Runs / s', 'Finished runs per second (succeeded, failed, canceled).', 'ops', {
        expr: sumRate('promptmill_runs_total', ''),
      }),
    )
    .withPanel(
      singleStat('Run failure ratio', 'Share of finished runs that failed.', 'percentunit', {
        expr: ratio('promptmill_runs_total', 'status="failed"', ''),
      }),
    )
    .withPanel(
      singleStat('Tokens / s', 'Prompt and completion tokens per second.', 'short', {
        expr: sumRate('promptmill_tokens_total', ''),
      }),
    )
    .withPanel(
      singleStat('Cost (USD / h)', 'Spend on model providers at the current rate.', 'currencyUSD', {
        expr: sumRate('promptmill_cost_usd_total', '', undefined, 3600),
      }),
    )
    .withRow(new Row('Traffic'))
    .withPanel(
      timeSeries(
        'Requests by route',
        'Requests per second by route template (`unmatched`: unknown paths and requests refused before routing).',
        'reqps',
        [{ expr: sumRate('promptmill_http_requests_total', 'route'), legend: '{{route}}' }],
        { stacked: true },
      ),
    )
    .withPanel(
      timeSeries(
        'Responses by status',
        'Responses per second by HTTP status.',
        'reqps',
        [{ expr: sumRate('promptmill_http_requests_total', 'status'), legend: '{{status}}' }],
        { stacked: true },
      ),
    )
    .withRow(new Row('Latency'))
    .withPanel(
      timeSeries('API latency', 'Request duration quantiles over every route.', 's', [
        { expr: quantile(0.5, 'promptmill_http_request_duration_seconds', ''), legend: 'p50' },
        { expr: quantile(0.95, 'promptmill_http_request_duration_seconds', ''), legend: 'p95' },
        { expr: quantile(0.99, 'promptmill_http_request_duration_seconds', ''), legend: 'p99' },
      ]),
    )
    .withPanel(
      timeSeries(
        'API latency p95 by route',
        'Sync runs wait for the model: /api/v1/run is as slow as the provider.',
        's',
        [{ expr: quantile(0.95, 'promptmill_http_request_duration_seconds', 'route'), legend: '{{route}}' }],
      ),
    )
    .withPanel(
      timeSeries('Run duration', 'From workflow start to completion, every prompt.', 's', [
        { expr: quantile(0.5, 'promptmill_run_duration_seconds', ''), legend: 'p50' },
        { expr: quantile(0.95, 'promptmill_run_duration_seconds', ''), legend: 'p95' },
        { expr: quantile(0.99, 'promptmill_run_duration_seconds', ''), legend: 'p99' },
      ]),
    )
    .withPanel(
      timeSeries(
        'Provider latency p95 by model',
        'One provider call (a run may make several: retries, fallbacks).',
        's',
        [{ expr: quantile(0.95, 'promptmill_provider_latency_seconds', 'model'), legend: '{{model}}' }],
      ),
    )
    .withRow(new Row('Errors'))
    .withPanel(
      timeSeries(
        '5xx by route and status',
        '502 PROVIDER_ERROR: the provider failed after retries; 504 RUN_TIMEOUT: a sync wait ran out; 500/503: Postgres or Temporal.',
        'reqps',
        [
          {
            expr: sumRate('promptmill_http_requests_total', 'route, status', 'status=~"5.."'),
            legend: '{{status}} {{route}}',
          },
        ],
      ),
    )
    .withPanel(
      timeSeries(
        'Runs by status',
        'Finished runs per second by status.',
        'ops',
        [{ expr: sumRate('promptmill_runs_total', 'status'), legend: '{{status}}' }],
        { stacked: true },
      ),
    )
    .withRow(new Row('Tokens and cost'))
    .withPanel(
      timeSeries(
        'Tokens by model and kind',
        'Tokens per second; kind is prompt or completion.',
        'short',
        [{ expr: sumRate('promptmill_tokens_total', 'model, kind'), legend: '{{model}} {{kind}}' }],
        { stacked: true },
      ),
    )
    .withPanel(
      timeSeries(
        'Cost by model (USD / h)',
        'Spend rate per model, from the price table (MODEL_PRICES).',
        'currencyUSD',
        [{ expr: sumRate('promptmill_cost_usd_total', 'model', undefined, 3600), legend: '{{model}}' }],
        { stacked: true },
      ),
    )
    .withRow(new Row('Processes'))
    .withPanel(
      timeSeries(
        'CPU by process',
        'CPU seconds per second of each api and worker process.',
        'percentunit',
        [
          {
            expr: 'rate(promptmill_api_process_cpu_seconds_total[$__rate_interval])',
            legend: 'api {{instance}}',
          },
          {
            expr: 'rate(promptmill_worker_process_cpu_seconds_total[$__rate_interval])',
            legend: 'worker {{instance}}',
          },
        ],
        { w: 8 },
      ),
    )
    .withPanel(
      timeSeries(
        'Resident memory by process',
        'RSS of each api and worker process.',
        'bytes',
        [
          { expr: 'promptmill_api_process_resident_memory_bytes', legend: 'api {{instance}}' },
          { expr: 'promptmill_worker_process_resident_memory_bytes', legend: 'worker {{instance}}' },
        ],
        { w: 8 },
      ),
    )
    .withPanel(
      timeSeries(
        'Event loop lag p99',
        'A busy event loop delays every request of that process.',
        's',
        [
          { expr: 'promptmill_api_nodejs_eventloop_lag_p99_seconds', legend: 'api {{instance}}' },
          { expr: 'promptmill_worker_nodejs_eventloop_lag_p99_seconds', legend: 'worker {{instance}}' },
        ],
        { w: 8 },
      ),
    );
}
