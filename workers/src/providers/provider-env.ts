/**
 * The model-provider settings, one schema for every process that calls providers: the worker, and
 * the api in direct mode (SYNC_RUN_MODE=direct). Each still owns its env.ts and extends it with these.
 */
import { EnvError, secretFromEnv } from '@promptmill/infra/config';
import { z } from 'zod';
import {
  mergeProviderSettings,
  modelMapSchema,
  ProviderConfigError,
  priceSchema,
  providerConfigSchema,
  readProvidersFile,
} from './provider-config.ts';

const jsonString = <T extends z.ZodType>(schema: T) =>
  z
    .string()
    .transform((text, ctx) => {
      try {
        return JSON.parse(text) as unknown;
      } catch {
        ctx.addIssue({ code: 'custom', message: 'must be valid JSON' });
        return z.NEVER;
      }
    })
    .pipe(schema);

export const providerEnvSchema = z.object({
  /** Key for the default OpenAI-compatible provider. Unset → the local stack starts the mock provider. */
  OPENAI_API_KEY: secretFromEnv(
    'OPENAI_API_KEY',
    1,
    'the local stack then starts the mock provider',
  ).optional(),
  /** Base URL of the default provider (any OpenAI-compatible server). */
  OPENAI_BASE_URL: z.string().url().default('https://api.openai.com/v1'),
  /**
   * JSON array of extra OpenAI-compatible providers: [{name, baseUrl, apiKey|apiKeyEnv, models:[…], timeoutMs?}];
   * `models` holds exact names, `prefix*` or `*`. A model no provider claims goes to the default (OPENAI_BASE_URL).
   */
  PROVIDERS: jsonString(z.array(providerConfigSchema)).default([]),
  /** JSON map model → provider name, an explicit route that wins over every pattern: {"llama-3.1-8b": "groq"}. */
  MODEL_PROVIDERS: jsonString(modelMapSchema).default({}),
  /** JSON map of USD prices per 1M tokens, merged over the built-in table: {"model": {"input": 0.15, "output": 0.6}}. */
  MODEL_PRICES: jsonString(z.record(z.string(), priceSchema)).default({}),
  /**
   * Path of a JSON file with the same settings: [providers…] or {providers, models, prices}.
   * Env entries win over the file's (PROVIDERS are matched first; MODEL_PROVIDERS and MODEL_PRICES override).
   */
  PROVIDERS_FILE: z.string().min(1).optional(),
  /** Timeout of one provider HTTP call. */
  PROVIDER_TIMEOUT_MS: z.coerce.number().int().min(100).max(600_000).default(60_000),
  /**
   * Distinct prompt labels per organization (and version labels per prompt) in this process's run
   * metrics; later ones are `<org tag>/other` (README, Operations: metric labels).
   */
  METRICS_PROMPT_LABELS_PER_ORG: z.coerce.number().int().min(1).max(10_000).default(50),
  /** Distinct label sets per run metric in this process; later ones have prompt, version and model `other`. */
  METRICS_MAX_SERIES: z.coerce.number().int().min(100).max(1_000_000).default(10_000),
});

export type ProviderEnv = z.infer<typeof providerEnvSchema>;

/** Folds PROVIDERS_FILE and MODEL_PROVIDERS into PROVIDERS and MODEL_PRICES (fails fast, naming `service`). */
export function withProviderSettings<E extends ProviderEnv>(env: E, service: string): E {
  try {
    const settings = mergeProviderSettings({
      envProviders: env.PROVIDERS,
      envPrices: env.MODEL_PRICES,
      envModels: env.MODEL_PROVIDERS,
      file: env.PROVIDERS_FILE ? readProvidersFile(env.PROVIDERS_FILE) : undefined,
    });
    return { ...env, PROVIDERS: settings.providers, MODEL_PRICES: settings.prices };
  } catch (err) {
    if (err instanceof ProviderConfigError)
      throw new EnvError(`${service}: invalid environment\n  ${err.message}`);
    throw err;
  }
}
