import OpenAI from 'openai';
import { nodeHttpFetch } from './http-fetch.ts';
import type { ProviderConfig } from './provider-config.ts';

export interface Provider {
  name: string;
  client: OpenAI;
}

export interface ProviderRegistry {
  forModel(model: string): Provider;
  all(): Provider[];
}

/** Name of the provider behind OPENAI_BASE_URL, which serves every model no other provider claims. */
export const DEFAULT_PROVIDER_NAME = 'openai';

/**
 * How well a pattern claims a model: an exact name beats any `prefix*` (the longest prefix wins),
 * which beats `*`; undefined = no claim.
 */
export function matchRank(pattern: string, model: string): number | undefined {
  if (pattern === model) return Number.MAX_SAFE_INTEGER;
  if (pattern === '*') return 0;
  if (pattern.endsWith('*')) {
    const prefix = pattern.slice(0, -1);
    return model.startsWith(prefix) ? prefix.length + 1 : undefined;
  }
  return undefined;
}

/** The provider config that claims `model` best; ties go to the first configured. */
export function pickProvider<P extends Pick<ProviderConfig, 'models'>>(
  providers: readonly P[],
  model: string,
) {
  let best: { provider: P; rank: number } | undefined;
  for (const provider of providers) {
    for (const pattern of provider.models) {
      const rank = matchRank(pattern, model);
      if (rank !== undefined && (!best || rank > best.rank)) best = { provider, rank };
    }
  }
  return best?.provider;
}

/**
 * Named OpenAI-compatible providers, chosen by model name (exact > longest `prefix*` > `*`); the
 * default provider (OPENAI_BASE_URL) serves whatever no other provider claims. The SDK never
 * retries: Temporal's retry policy does, so every attempt is visible and recorded.
 */
export function createProviderRegistry(opts: {
  providers: ProviderConfig[];
  defaultBaseUrl: string;
  defaultApiKey: string | undefined;
  timeoutMs: number;
  env?: NodeJS.ProcessEnv;
}): ProviderRegistry {
  const env = opts.env ?? process.env;
  const make = (name: string, baseURL: string, apiKey: string | undefined, timeout: number): Provider => ({
    name,
    // node:http instead of the global fetch: cheaper per call (http-fetch.ts)
    client: new OpenAI({
      baseURL,
      apiKey: apiKey ?? 'not-needed',
      maxRetries: 0,
      timeout,
      fetch: nodeHttpFetch,
    }),
  });
  const named = opts.providers.map((p) => ({
    models: p.models,
    provider: make(
      p.name,
      p.baseUrl,
      p.apiKey ?? (p.apiKeyEnv ? env[p.apiKeyEnv] : undefined),
      p.timeoutMs ?? opts.timeoutMs,
    ),
  }));
  const fallback = make(DEFAULT_PROVIDER_NAME, opts.defaultBaseUrl, opts.defaultApiKey, opts.timeoutMs);
  return {
    forModel(model) {
      return pickProvider(named, model)?.provider ?? fallback;
    },
    all: () => [...named.map((n) => n.provider), fallback],
  };
}
