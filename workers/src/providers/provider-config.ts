import { readFileSync } from 'node:fs';
import { z } from 'zod';

export const providerConfigSchema = z
  .object({
    name: z.string().min(1),
    baseUrl: z.string().url(),
    /** The key itself, or the name of the env var that holds it. */
    apiKey: z.string().optional(),
    apiKeyEnv: z.string().optional(),
    /** Model names this provider serves: exact names, `prefix*`, or `*` for any. */
    models: z.array(z.string().min(1)).default([]),
    /** Timeout of one call to this provider; default PROVIDER_TIMEOUT_MS. */
    timeoutMs: z.number().int().min(100).max(600_000).optional(),
  })
  .strict();
export type ProviderConfig = z.infer<typeof providerConfigSchema>;

/** USD per 1M tokens. */
export const priceSchema = z.object({ input: z.number().min(0), output: z.number().min(0) }).strict();
export type PriceConfig = z.infer<typeof priceSchema>;

/** model → provider name; an explicit route that wins over every pattern. */
export const modelMapSchema = z.record(z.string().min(1), z.string().min(1));

/**
 * PROVIDERS_FILE: either a bare array of providers, or
 * `{ providers: [...], models: { "<model>": "<provider>" }, prices: { "<model>": { input, output } } }`.
 */
export const providersFileSchema = z.union([
  z.array(providerConfigSchema).transform((providers) => ({ providers, models: {}, prices: {} })),
  z
    .object({
      providers: z.array(providerConfigSchema).default([]),
      models: modelMapSchema.default({}),
      prices: z.record(z.string(), priceSchema).default({}),
    })
    .strict(),
]);
export type ProvidersFile = z.infer<typeof providersFileSchema>;

export class ProviderConfigError extends Error {
  override name = 'ProviderConfigError';
}

export function parseProvidersFile(text: string, path: string): ProvidersFile {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new ProviderConfigError(`PROVIDERS_FILE ${path} is not valid JSON: ${(err as Error).message}`);
  }
  const parsed = providersFileSchema.safeParse(json);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((i) => `  ${i.path.join('.') || '(file)'}: ${i.message}`);
    throw new ProviderConfigError(`PROVIDERS_FILE ${path} is invalid:\n${lines.join('\n')}`);
  }
  return parsed.data;
}

export function readProvidersFile(path: string): ProvidersFile {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new ProviderConfigError(`PROVIDERS_FILE ${path} cannot be read: ${(err as Error).message}`);
  }
  return parseProvidersFile(text, path);
}

export interface ProviderSettings {
  providers: ProviderConfig[];
  prices: Record<string, PriceConfig>;
}

/**
 * Env and file settings together: env providers come first (they win on equal matches), env prices
 * and model routes override the file's. A model route is folded into its provider as an exact
 * model name, which the registry matches before any pattern.
 */
export function mergeProviderSettings(opts: {
  envProviders: ProviderConfig[];
  envPrices: Record<string, PriceConfig>;
  envModels: Record<string, string>;
  file?: ProvidersFile | undefined;
}): ProviderSettings {
  const providers = [...opts.envProviders, ...(opts.file?.providers ?? [])].map((p) => ({
    ...p,
    models: [...p.models],
  }));
  const seen = new Set<string>();
  for (const p of providers) {
    if (seen.has(p.name)) throw new ProviderConfigError(`Provider '${p.name}' is configured twice`);
    seen.add(p.name);
  }
  const routes = { ...opts.file?.models, ...opts.envModels };
  for (const [model, name] of Object.entries(routes)) {
    const target = providers.find((p) => p.name === name);
    if (!target) {
      throw new ProviderConfigError(
        `Model '${model}' is routed to provider '${name}', which is not configured (known: ${[...seen].join(', ') || 'none'})`,
      );
    }
    // the route wins: no other provider may claim the exact name first
    for (const p of providers) if (p !== target) p.models = p.models.filter((m) => m !== model);
    if (!target.models.includes(model)) target.models.unshift(model);
  }
  return { providers, prices: { ...opts.file?.prices, ...opts.envPrices } };
}
