import { describe, expect, it } from 'vitest';
import {
  mergeProviderSettings,
  type ProviderConfig,
  ProviderConfigError,
  parseProvidersFile,
} from './provider-config.ts';

const groq: ProviderConfig = {
  name: 'groq',
  baseUrl: 'https://api.groq.com/openai/v1',
  apiKeyEnv: 'GROQ_API_KEY',
  models: ['llama-*'],
};

describe('parseProvidersFile', () => {
  it('accepts a bare array of providers', () => {
    expect(parseProvidersFile(JSON.stringify([groq]), 'p.json')).toEqual({
      providers: [groq],
      models: {},
      prices: {},
    });
  });

  it('accepts {providers, models, prices}; models default to [] per provider', () => {
    const file = {
      providers: [{ name: 'together', baseUrl: 'https://api.together.xyz/v1', apiKey: 'k' }],
      models: { 'qwen-72b': 'together' },
      prices: { 'qwen-72b': { input: 0.9, output: 0.9 } },
    };
    expect(parseProvidersFile(JSON.stringify(file), 'p.json')).toEqual({
      providers: [{ name: 'together', baseUrl: 'https://api.together.xyz/v1', apiKey: 'k', models: [] }],
      models: { 'qwen-72b': 'together' },
      prices: { 'qwen-72b': { input: 0.9, output: 0.9 } },
    });
  });

  it('refuses bad JSON and bad fields with the file and field named', () => {
    expect(() => parseProvidersFile('{', 'p.json')).toThrow(/PROVIDERS_FILE p\.json is not valid JSON/);
    const bad = () =>
      parseProvidersFile(
        JSON.stringify({
          providers: [{ name: 'x', baseUrl: 'not a url' }],
          prices: { m: { input: -1, output: 0 } },
        }),
        'p.json',
      );
    expect(bad).toThrow(ProviderConfigError);
    expect(bad).toThrow(/PROVIDERS_FILE p\.json is invalid/);
    expect(() => parseProvidersFile(JSON.stringify({ provider: [] }), 'p.json')).toThrow(ProviderConfigError);
  });
});

describe('mergeProviderSettings', () => {
  const file = parseProvidersFile(
    JSON.stringify({
      providers: [{ name: 'any', baseUrl: 'http://127.0.0.1:1/v1', models: ['*', 'llama-3.1-8b'] }],
      models: { 'llama-3.1-8b': 'groq', 'phi-3': 'any' },
      prices: { 'llama-3.1-8b': { input: 0.05, output: 0.08 }, 'phi-3': { input: 0.1, output: 0.1 } },
    }),
    'p.json',
  );

  it('env providers come first; model routes become exact names on their provider only', () => {
    const merged = mergeProviderSettings({
      envProviders: [groq],
      envPrices: { 'phi-3': { input: 1, output: 1 } },
      envModels: {},
      file,
    });
    expect(merged.providers.map((p) => [p.name, p.models])).toEqual([
      ['groq', ['llama-3.1-8b', 'llama-*']],
      ['any', ['phi-3', '*']],
    ]);
    // env prices win over the file's
    expect(merged.prices).toEqual({
      'llama-3.1-8b': { input: 0.05, output: 0.08 },
      'phi-3': { input: 1, output: 1 },
    });
    // inputs are not mutated
    expect(groq.models).toEqual(['llama-*']);
  });

  it('env model routes override the file’s', () => {
    const merged = mergeProviderSettings({
      envProviders: [groq],
      envPrices: {},
      envModels: { 'phi-3': 'groq' },
      file,
    });
    expect(merged.providers.find((p) => p.name === 'groq')?.models).toContain('phi-3');
    expect(merged.providers.find((p) => p.name === 'any')?.models).not.toContain('phi-3');
  });

  it('refuses a route to an unknown provider and duplicate provider names', () => {
    expect(() =>
      mergeProviderSettings({ envProviders: [], envPrices: {}, envModels: { m: 'nope' } }),
    ).toThrow("Model 'm' is routed to provider 'nope', which is not configured (known: none)");
    expect(() => mergeProviderSettings({ envProviders: [groq, groq], envPrices: {}, envModels: {} })).toThrow(
      "Provider 'groq' is configured twice",
    );
  });
});
