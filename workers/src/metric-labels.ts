/**
 * Bounded label values for the worker's run metrics. Prompt and model names are chosen by tenants:
 * used as labels as they are, every new name is a new series (Prometheus' memory and every query
 * grow without bound), and two organizations' prompts of one name would add up in one series.
 *
 * - prompt  `<org tag>/<prompt name>` (orgMetricTag), at most `promptsPerOrg` distinct ones per
 *           organization in this process, then `<org tag>/other`;
 * - version the version number, at most `promptsPerOrg` distinct ones per prompt label, then `other`;
 * - model   a model the deployment knows (knownModelLabel), else `other`;
 * - and per metric at most `maxSeries` label sets, after which new ones have their tenant-chosen
 *   labels as `other` (a last resort against many organizations).
 *
 * Budgets are per process and first come, first served: after a restart the first prompts to run
 * get labels again. Names seen once keep their label for the life of the process.
 */
import { orgMetricTag } from '@promptmill/infra';
import { DEFAULT_PRICES, undatedModel } from './providers/pricing.ts';

export const OTHER = 'other';

export interface MetricLabelOptions {
  /** distinct prompt labels per organization (and version labels per prompt) per process */
  promptsPerOrg: number;
  /** distinct label sets per metric per process */
  maxSeries: number;
  /** the model's label: itself or a family when the deployment knows it, else `other` */
  knownModel: (model: string) => string;
}

export interface MetricLabels {
  prompt(orgId: string, promptName: string): string;
  version(promptLabel: string, version: number): string;
  model(model: string): string;
  /** `labels` as they are while `metric` has room for another series, else the `open` ones as `other` */
  capped<L extends Record<string, string>>(metric: string, labels: L, open: readonly string[]): L;
}

/** Admits up to `max` distinct values per scope; the rest are refused (the caller says `other`). */
class Budget {
  readonly #seen = new Map<string, Set<string>>();
  readonly #max: number;

  constructor(max: number) {
    this.#max = max;
  }

  admits(scope: string, value: string): boolean {
    let values = this.#seen.get(scope);
    if (!values) {
      values = new Set();
      this.#seen.set(scope, values);
    }
    if (values.has(value)) return true;
    if (values.size >= this.#max) return false;
    values.add(value);
    return true;
  }
}

export function createMetricLabels(o: MetricLabelOptions): MetricLabels {
  const tags = new Map<string, string>();
  const prompts = new Budget(o.promptsPerOrg);
  const versions = new Budget(o.promptsPerOrg);
  const series = new Budget(o.maxSeries);
  const tagOf = (orgId: string) => {
    let tag = tags.get(orgId);
    if (tag === undefined) {
      tag = orgMetricTag(orgId);
      tags.set(orgId, tag);
    }
    return tag;
  };
  return {
    prompt(orgId, promptName) {
      const tag = tagOf(orgId);
      return prompts.admits(orgId, promptName) ? `${tag}/${promptName}` : `${tag}/${OTHER}`;
    },
    version(promptLabel, version) {
      const value = String(version);
      return versions.admits(promptLabel, value) ? value : OTHER;
    },
    model: (model) => o.knownModel(model),
    capped(metric, labels, open) {
      const key = JSON.stringify(Object.values(labels));
      if (series.admits(metric, key)) return labels;
      const bounded: Record<string, string> = { ...labels };
      for (const name of open) if (Object.hasOwn(bounded, name)) bounded[name] = OTHER;
      return bounded as typeof labels;
    },
  };
}

/**
 * The model label: a model with a price (the built-in table, MODEL_PRICES, PROVIDERS_FILE) or named
 * exactly by a provider's `models` is itself; a dated snapshot of a priced model is its family
 * (`gpt-4o-2024-08-06` → `gpt-4o`: a tenant could invent any date); anything else is `other`,
 * including what a `prefix*` or `*` pattern routes (those admit any name).
 */
export function knownModelLabel(deployment: {
  /** MODEL_PRICES (over the built-in table) */
  prices: Record<string, unknown>;
  providers: readonly { models: readonly string[] }[];
}): (model: string) => string {
  const priced = new Set([...Object.keys(DEFAULT_PRICES), ...Object.keys(deployment.prices)]);
  const named = new Set(deployment.providers.flatMap((p) => p.models.filter((m) => !m.endsWith('*'))));
  return (model) => {
    if (priced.has(model) || named.has(model)) return model;
    const family = undatedModel(model);
    return priced.has(family) ? family : OTHER;
  };
}
