import OpenAI from 'openai';
import type { ProviderConfig } from '../env.ts';

export interface Provider {
  name: string;
  client: OpenAI;
}

export interface ProviderRegistry {
  forModel(model: string): Provider;
  all(): Provider[];
}

function matches(pattern: string, model: string): boolean {
  if (pattern === '*') return true;
  if (pattern.endsWith('*')) return model.startsWith(pattern.slice(0, -1));
  return pattern === model;
}

/**
 * Named OpenAI-compatible providers, matched by model name in order; the default provider
 * (OPENAI_BASE_URL) serves whatever no other provider claims. The SDK never retries:
 * Temporal's retry policy does, so every attempt is visible and recorded.
 */
export function createProviderRegistry(opts: {
  providers: ProviderConfig[];
  defaultBaseUrl: string;
  defaultApiKey: string | undefined;
  timeoutMs: number;
  env?: NodeJS.ProcessEnv;
}): ProviderRegistry {
  const env = opts.env ?? process.env;
  const make = (name: string, baseURL: string, apiKey: string | undefined): Provider => ({
    name,
    client: new OpenAI({ baseURL, apiKey: apiKey ?? 'not-needed', maxRetries: 0, timeout: opts.timeoutMs }),
  });
  const named = opts.providers.map((p) => ({
    patterns: p.models,
    provider: make(p.name, p.baseUrl, p.apiKey ?? (p.apiKeyEnv ? env[p.apiKeyEnv] : undefined)),
  }));
  const fallback = make('openai', opts.defaultBaseUrl, opts.defaultApiKey);
  return {
    forModel(model) {
      return named.find((n) => n.patterns.some((p) => matches(p, model)))?.provider ?? fallback;
    },
    all: () => [...named.map((n) => n.provider), fallback],
  };
}
