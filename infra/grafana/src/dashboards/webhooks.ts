import { dashboard, Row, timeSeries } from '../panels.ts';
import { quantile, ratio, sumRate } from '../promql.ts';

/** Webhook deliveries: volume by event and outcome, failures, latency. */
export function webhooksDashboard() {
  return dashboard(
    'promptmill-webhooks',
    'Promptmill webhooks',
    'Delivery attempts by event and outcome (`success` is a 2xx answer; anything else failed and is retried).',
  )
    .withRow(new Row('Deliveries'))
    .withPanel(
      timeSeries(
        'Delivery attempts by event and outcome',
        'Attempts per second; a failed attempt is retried after 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h.',
        'ops',
        [
          {
            expr: sumRate('promptmill_webhook_deliveries_total', 'event, outcome'),
            legend: '{{event}} {{outcome}}',
          },
        ],
        { stacked: true },
      ),
    )
    .withPanel(
      timeSeries(
        'Failed share by event',
        'Share of attempts that did not get a 2xx (alert PromptmillWebhookFailures above 20%).',
        'percentunit',
        [
          {
            expr: ratio('promptmill_webhook_deliveries_total', 'outcome!="success"', 'event'),
            legend: '{{event}}',
          },
        ],
        { min: 0 },
      ),
    )
    .withPanel(
      timeSeries('Delivery latency', 'Duration of one delivery attempt (timeout 15 s).', 's', [
        { expr: quantile(0.5, 'promptmill_webhook_delivery_latency_seconds', ''), legend: 'p50' },
        { expr: quantile(0.95, 'promptmill_webhook_delivery_latency_seconds', ''), legend: 'p95' },
        { expr: quantile(0.99, 'promptmill_webhook_delivery_latency_seconds', ''), legend: 'p99' },
      ]),
    );
}
