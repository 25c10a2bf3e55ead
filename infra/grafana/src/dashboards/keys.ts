import { dashboard, note, Row, timeSeries } from '../panels.ts';
import { ratio, sumRate } from '../promql.ts';

/**
 * Keys and limits. Prometheus has no key label by design (API.md: never raw ids or keys; a key label
 * would also multiply every series by the number of keys, which churn with rotation), so this board
 * shows what keys do in aggregate; per key, exact numbers come from the tenant analytics API over the
 * usage rows in Postgres.
 */
export function keysDashboard() {
  return dashboard(
    'promptmill-keys',
    'Promptmill keys and limits',
    'Authentication and rate-limit outcomes in aggregate. Per-key numbers are in the analytics API.',
  )
    .withPanel(
      note(
        'Per key: use the analytics API',
        'Metrics carry no key label: key ids never go to Prometheus, and a label per key would multiply every ' +
          'series. Per-key requests, errors, latency, tokens and cost are exact in Postgres and served to each ' +
          'organization by `GET /v1/keys/:id/analytics` and `GET /v1/usage?groupBy=key` (scope `analytics:read`). ' +
          "`GET /v1/keys` shows each key's status, including `rate_limited`.",
        { h: 3 },
      ),
    )
    .withRow(new Row('Rate limits'))
    .withPanel(
      timeSeries(
        'Rate-limit decisions by result',
        'allowed, limited (429); error_open: the store failed and the request passed; error_closed and error: it was refused.',
        'ops',
        [{ expr: sumRate('promptmill_rate_limit_decisions_total', 'result'), legend: '{{result}}' }],
        { stacked: true },
      ),
    )
    .withPanel(
      timeSeries(
        'Refused share',
        'Share of decisions that refused the request (alert PromptmillRateLimitSaturation above 25%).',
        'percentunit',
        [{ expr: ratio('promptmill_rate_limit_decisions_total', 'result="limited"', ''), legend: 'limited' }],
        { min: 0 },
      ),
    )
    .withRow(new Row('What keys get back'))
    .withPanel(
      timeSeries(
        'Client errors by status',
        '401 bad or expired key, 402 quota or budget spent, 403 scope, origin or model not allowed, 404, 429 rate limited.',
        'reqps',
        [
          {
            expr: sumRate('promptmill_http_requests_total', 'status', 'status=~"4.."'),
            legend: '{{status}}',
          },
        ],
        { stacked: true },
      ),
    )
    .withPanel(
      timeSeries(
        'Refused share of requests',
        'Share of all api requests answered 401, 402, 403 or 429: keys that cannot or may not do what they ask.',
        'percentunit',
        [
          {
            expr: ratio('promptmill_http_requests_total', 'status=~"401|402|403|429"', ''),
            legend: 'refused',
          },
        ],
        { min: 0 },
      ),
    );
}
