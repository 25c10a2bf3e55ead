import { describe, expect, it } from 'vitest';
import type { ProviderConfig } from './provider-config.ts';
import {
  createProviderRegistry,
  DEFAULT_PROVIDER_NAME,
  matchRank,
  pickProvider,
} from './provider-registry.ts';

const provider = (name: string, models: string[], extra: Partial<ProviderConfig> = {}): ProviderConfig => ({
  name,
  baseUrl: `http://127.0.0.1:1/${name}/v1`,
  models,
  ...extra,
});

describe('matchRank / pickProvider', () => {
  it('exact beats the longest prefix, which beats a shorter prefix, which beats *', () => {
    expect(matchRank('gpt-4o', 'gpt-4o')).toBeGreaterThan(matchRank('gpt-4o*', 'gpt-4o')!);
    expect(matchRank('gpt-4o*', 'gpt-4o-mini')).toBeGreaterThan(matchRank('gpt-*', 'gpt-4o-mini')!);
    expect(matchRank('gpt-*', 'gpt-4o-mini')).toBeGreaterThan(matchRank('*', 'gpt-4o-mini')!);
    expect(matchRank('claude*', 'gpt-4o')).toBeUndefined();
    expect(matchRank('gpt-4o', 'gpt-4o-mini')).toBeUndefined();
  });

  it('picks by rank whatever the order, and the first configured on a tie', () => {
    const providers = [provider('any', ['*']), provider('gpt', ['gpt-*']), provider('mini', ['gpt-4o-mini'])];
    expect(pickProvider(providers, 'gpt-4o-mini')?.name).toBe('mini');
    expect(pickProvider(providers, 'gpt-4o')?.name).toBe('gpt');
    expect(pickProvider(providers, 'llama')?.name).toBe('any');
    expect(pickProvider([provider('a', ['x*']), provider('b', ['x*'])], 'x1')?.name).toBe('a');
    expect(pickProvider([provider('a', ['x'])], 'y')).toBeUndefined();
  });
});

describe('createProviderRegistry', () => {
  const registry = createProviderRegistry({
    providers: [
      provider('groq', ['llama-*', 'mixtral-8x7b'], { apiKeyEnv: 'GROQ_KEY', timeoutMs: 1234 }),
      provider('local', ['local-model'], { apiKey: 'literal-key' }),
    ],
    defaultBaseUrl: 'http://127.0.0.1:1/openai/v1',
    defaultApiKey: 'sk-default',
    timeoutMs: 5000,
    env: { GROQ_KEY: 'gsk-from-env' },
  });

  it('routes each model to its provider, the rest to the default', () => {
    expect(registry.forModel('llama-3.1-8b').name).toBe('groq');
    expect(registry.forModel('mixtral-8x7b').name).toBe('groq');
    expect(registry.forModel('local-model').name).toBe('local');
    expect(registry.forModel('gpt-4o').name).toBe(DEFAULT_PROVIDER_NAME);
    expect(registry.all().map((p) => p.name)).toEqual(['groq', 'local', 'openai']);
  });

  it('configures each client: base URL, key (literal or from env), timeout, no SDK retries', () => {
    const groq = registry.forModel('llama-3').client;
    expect(groq.baseURL).toBe('http://127.0.0.1:1/groq/v1');
    expect(groq.apiKey).toBe('gsk-from-env');
    expect(groq.timeout).toBe(1234);
    expect(groq.maxRetries).toBe(0);
    const local = registry.forModel('local-model').client;
    expect(local.apiKey).toBe('literal-key');
    expect(local.timeout).toBe(5000);
    const fallback = registry.forModel('gpt-4o').client;
    expect(fallback.baseURL).toBe('http://127.0.0.1:1/openai/v1');
    expect(fallback.apiKey).toBe('sk-default');
    expect(fallback.maxRetries).toBe(0);
  });

  it('a provider without a key (local servers) still gets a placeholder the SDK accepts', () => {
    const r = createProviderRegistry({
      providers: [provider('ollama', ['*'])],
      defaultBaseUrl: 'http://127.0.0.1:1/v1',
      defaultApiKey: undefined,
      timeoutMs: 1000,
      env: {},
    });
    expect(r.forModel('qwen').client.apiKey).toBe('not-needed');
  });
});
