import type { TokenUsage } from '@promptmill/workflows';

export interface ModelPrice {
  /** USD per 1M input (prompt) tokens */
  input: number;
  /** USD per 1M output (completion) tokens */
  output: number;
}

/** Built-in list prices (USD per 1M tokens); MODEL_PRICES overrides or extends it. */
export const DEFAULT_PRICES: Record<string, ModelPrice> = {
  'gpt-4o': { input: 2.5, output: 10 },
  'gpt-4o-mini': { input: 0.15, output: 0.6 },
  'gpt-4.1': { input: 2, output: 8 },
  'gpt-4.1-mini': { input: 0.4, output: 1.6 },
  'gpt-4.1-nano': { input: 0.1, output: 0.4 },
  'gpt-4': { input: 30, output: 60 },
  'gpt-3.5-turbo': { input: 0.5, output: 1.5 },
  // the mock provider's models carry a price so cost accounting is exercised end to end
  'mock-1': { input: 1, output: 2 },
  'mock-fast': { input: 0.5, output: 1 },
};

/** A dated snapshot name (`gpt-4o-mini-2024-07-18`, `gpt-4-0613`) without its date. */
export function undatedModel(model: string): string {
  return model.replace(/-(\d{4}-\d{2}-\d{2}|\d{4})$/, '');
}

/**
 * Price lookup: the built-in table with MODEL_PRICES (and PROVIDERS_FILE prices) over it. Providers
 * answer with dated snapshot names, so a name without a price falls back to its undated family.
 */
export function createPriceTable(
  overrides: Record<string, ModelPrice>,
): (model: string) => ModelPrice | undefined {
  const table = new Map(Object.entries({ ...DEFAULT_PRICES, ...overrides }));
  return (model) => table.get(model) ?? table.get(undatedModel(model));
}

export function usageWithCost(
  promptTokens: number,
  completionTokens: number,
  price: ModelPrice | undefined,
): TokenUsage {
  const cost = price ? (promptTokens * price.input + completionTokens * price.output) / 1_000_000 : 0;
  return {
    promptTokens,
    completionTokens,
    totalTokens: promptTokens + completionTokens,
    cost: Math.round(cost * 1e9) / 1e9,
  };
}
