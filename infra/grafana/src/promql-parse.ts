/**
 * Offline PromQL checks for the dashboards: Prometheus' own lezer grammar (the one its web UI uses)
 * parses each expression, and the metric names it selects are collected. test/e2e/prometheus.test.ts
 * also sends every expression to a real Prometheus, which checks types and functions as well.
 */
import { parser } from '@prometheus-io/lezer-promql';

export interface ParsedPromql {
  /** each syntax error as `at <offset>: <text around it>` */
  errors: string[];
  /** metric names of the vector selectors, in order of appearance, without duplicates */
  metrics: string[];
}

export function parsePromql(expr: string): ParsedPromql {
  const errors: string[] = [];
  const metrics = new Set<string>();
  const cursor = parser.parse(expr).cursor();
  do {
    if (cursor.type.isError) {
      errors.push(
        `at ${cursor.from}: ${JSON.stringify(expr.slice(Math.max(0, cursor.from - 10), cursor.from + 10))}`,
      );
    } else if (cursor.type.name === 'Identifier' && cursor.node.parent?.type.name === 'VectorSelector') {
      metrics.add(expr.slice(cursor.from, cursor.to));
    }
  } while (cursor.next());
  return { errors, metrics: [...metrics] };
}

/**
 * A dashboard expression as Grafana sends it: `$__rate_interval` and `$__range` become durations, and
 * each `$name` / `${name}` a variable's value (by default `.*`, the "All" value of every variable here).
 */
export function instantiate(
  expr: string,
  opts: { rateInterval?: string; range?: string; vars?: Record<string, string> } = {},
): string {
  return expr
    .replaceAll('$__rate_interval', opts.rateInterval ?? '1m')
    .replaceAll('$__range', opts.range ?? '1h')
    .replace(/\$\{?([A-Za-z_][A-Za-z0-9_]*)\}?/g, (_, name: string) => opts.vars?.[name] ?? '.*');
}
