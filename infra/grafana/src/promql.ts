/** Small PromQL builders for the dashboards: the shapes repeat, the metric and labels do not. */

const RATE = '$__rate_interval';

const selector = (metric: string, matchers?: string) => (matchers ? `${metric}{${matchers}}` : metric);

/** `sum by (by) (rate(metric{matchers}[$__rate_interval]))`, times `scale` (3600 for "per hour"). */
export function sumRate(metric: string, by: string, matchers?: string, scale?: number): string {
  const sum = `sum${by ? ` by (${by})` : ''} (rate(${selector(metric, matchers)}[${RATE}]))`;
  return scale ? `${sum} * ${scale}` : sum;
}

/** Quantile q of a histogram, per `by`. */
export function quantile(q: number, histogram: string, by: string, matchers?: string): string {
  const bucket = selector(`${histogram}_bucket`, matchers);
  return `histogram_quantile(${q}, sum by (${by ? `${by}, ` : ''}le) (rate(${bucket}[${RATE}])))`;
}

/**
 * Share of `counter` whose series match `part`, per `by`: 0 (not missing) while none do. With a
 * minimum of `clamp_min(total, 1e-9)` an idle period reads 0, not NaN.
 */
export function ratio(counter: string, part: string, by: string, matchers?: string): string {
  const all = matchers ? `${matchers}, ` : '';
  const sumBy = by ? ` by (${by})` : '';
  const total = `sum${sumBy} (rate(${selector(counter, matchers)}[${RATE}]))`;
  return (
    `(sum${sumBy} (rate(${counter}{${all}${part}}[${RATE}])) or ${total} * 0)` +
    ` / clamp_min(${total}, 1e-9)`
  );
}
