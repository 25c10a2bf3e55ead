import { describe, expect, it } from 'vitest';
import { createPriceTable, DEFAULT_PRICES, undatedModel, usageWithCost } from './pricing.ts';

describe('usageWithCost', () => {
  it('prices input and output tokens per 1M and sums the tokens', () => {
    expect(usageWithCost(1_000_000, 500_000, { input: 2.5, output: 10 })).toEqual({
      promptTokens: 1_000_000,
      completionTokens: 500_000,
      totalTokens: 1_500_000,
      cost: 7.5,
    });
    // 9 in, 7 out at $1 / $2 per 1M
    expect(usageWithCost(9, 7, { input: 1, output: 2 }).cost).toBe(0.000023);
  });

  it('an unpriced model costs 0 (tokens still count); cost is rounded to 1e-9 USD', () => {
    expect(usageWithCost(10, 5, undefined)).toEqual({
      promptTokens: 10,
      completionTokens: 5,
      totalTokens: 15,
      cost: 0,
    });
    expect(usageWithCost(1, 0, { input: 0.15, output: 0 }).cost).toBe(0.00000015);
    expect(usageWithCost(1, 1, { input: 0.0000001, output: 0 }).cost).toBe(0);
  });
});

describe('createPriceTable', () => {
  it('has list prices built in and lets overrides replace or extend them', () => {
    const priceOf = createPriceTable({
      'gpt-4o': { input: 1, output: 1 },
      'my-model': { input: 0.2, output: 0.4 },
    });
    expect(priceOf('gpt-4o')).toEqual({ input: 1, output: 1 });
    expect(priceOf('gpt-4o-mini')).toEqual(DEFAULT_PRICES['gpt-4o-mini']);
    expect(priceOf('my-model')).toEqual({ input: 0.2, output: 0.4 });
    expect(priceOf('unknown')).toBeUndefined();
  });

  it('prices a dated snapshot like its family unless the snapshot has its own price', () => {
    const priceOf = createPriceTable({ 'gpt-4o-2024-05-13': { input: 5, output: 15 } });
    expect(priceOf('gpt-4o-mini-2024-07-18')).toEqual(DEFAULT_PRICES['gpt-4o-mini']);
    expect(priceOf('gpt-4-0613')).toEqual(DEFAULT_PRICES['gpt-4']);
    expect(priceOf('gpt-4o-2024-05-13')).toEqual({ input: 5, output: 15 });
    expect(undatedModel('gpt-4o-2024-08-06')).toBe('gpt-4o');
    expect(undatedModel('mock-1')).toBe('mock-1');
  });

  it('is not fooled by Object.prototype names', () => {
    const priceOf = createPriceTable({});
    expect(priceOf('constructor')).toBeUndefined();
    expect(priceOf('__proto__')).toBeUndefined();
  });
});
