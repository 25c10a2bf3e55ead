import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EnvError } from '@promptmill/infra/config';
import { describe, expect, it } from 'vitest';
import { loadWorkerEnv } from './env.ts';

const base = { DATABASE_URL: 'postgres://u:p@127.0.0.1:5432/db' };

describe('loadWorkerEnv: provider settings', () => {
  it('defaults: no extra providers, no price overrides, 60 s provider timeout', () => {
    const env = loadWorkerEnv(base);
    expect(env.PROVIDERS).toEqual([]);
    expect(env.MODEL_PRICES).toEqual({});
    expect(env.MODEL_PROVIDERS).toEqual({});
    expect(env.PROVIDER_TIMEOUT_MS).toBe(60_000);
    expect(env.OPENAI_BASE_URL).toBe('https://api.openai.com/v1');
  });

  it('reads PROVIDERS, MODEL_PROVIDERS and MODEL_PRICES from JSON env vars', () => {
    const env = loadWorkerEnv({
      ...base,
      PROVIDERS: JSON.stringify([
        { name: 'groq', baseUrl: 'https://api.groq.com/openai/v1', models: ['llama-*'] },
      ]),
      MODEL_PROVIDERS: JSON.stringify({ 'gemma-7b': 'groq' }),
      MODEL_PRICES: JSON.stringify({ 'gemma-7b': { input: 0.07, output: 0.07 } }),
    });
    expect(env.PROVIDERS).toEqual([
      { name: 'groq', baseUrl: 'https://api.groq.com/openai/v1', models: ['gemma-7b', 'llama-*'] },
    ]);
    expect(env.MODEL_PRICES).toEqual({ 'gemma-7b': { input: 0.07, output: 0.07 } });
  });

  it('merges PROVIDERS_FILE after the env providers', () => {
    const dir = mkdtempSync(join(tmpdir(), 'pm-providers-'));
    const path = join(dir, 'providers.json');
    writeFileSync(
      path,
      JSON.stringify({
        providers: [
          { name: 'local', baseUrl: 'http://127.0.0.1:11434/v1', models: ['*'], timeoutMs: 120000 },
        ],
        prices: { 'qwen2.5': { input: 0, output: 0 } },
      }),
    );
    const env = loadWorkerEnv({
      ...base,
      PROVIDERS_FILE: path,
      PROVIDERS: JSON.stringify([
        { name: 'groq', baseUrl: 'https://api.groq.com/openai/v1', models: ['llama-*'] },
      ]),
    });
    expect(env.PROVIDERS.map((p) => p.name)).toEqual(['groq', 'local']);
    expect(env.PROVIDERS[1]?.timeoutMs).toBe(120000);
    expect(env.MODEL_PRICES).toEqual({ 'qwen2.5': { input: 0, output: 0 } });
  });

  it('fails fast with the variable or file named', () => {
    expect(() => loadWorkerEnv({ ...base, PROVIDERS: '[{' })).toThrow(/PROVIDERS: must be valid JSON/);
    expect(() => loadWorkerEnv({ ...base, MODEL_PRICES: JSON.stringify({ m: { input: 'x' } }) })).toThrow(
      EnvError,
    );
    expect(() => loadWorkerEnv({ ...base, PROVIDERS_FILE: '/nonexistent/providers.json' })).toThrow(
      /PROVIDERS_FILE \/nonexistent\/providers\.json cannot be read/,
    );
    expect(() => loadWorkerEnv({ ...base, MODEL_PROVIDERS: JSON.stringify({ m: 'ghost' }) })).toThrow(
      /worker: invalid environment\n {2}Model 'm' is routed to provider 'ghost'/,
    );
  });

  it('an empty OPENAI_API_KEY is refused with its own message, not read as unset', () => {
    expect(() => loadWorkerEnv({ ...base, OPENAI_API_KEY: '' })).toThrow(
      /OPENAI_API_KEY: OPENAI_API_KEY is set but empty: give it a value, or leave it out/,
    );
    expect(loadWorkerEnv({ ...base, OPENAI_API_KEY: 'sk-x' }).OPENAI_API_KEY).toBe('sk-x');
  });
});

describe('loadWorkerEnv: metric label budget', () => {
  it('defaults to 50 prompt labels per organization and 10,000 series per metric; bad values are named', () => {
    expect(loadWorkerEnv(base)).toMatchObject({
      METRICS_PROMPT_LABELS_PER_ORG: 50,
      METRICS_MAX_SERIES: 10_000,
    });
    expect(
      loadWorkerEnv({ ...base, METRICS_PROMPT_LABELS_PER_ORG: '200' }).METRICS_PROMPT_LABELS_PER_ORG,
    ).toBe(200);
    expect(() => loadWorkerEnv({ ...base, METRICS_PROMPT_LABELS_PER_ORG: '0' })).toThrow(
      /METRICS_PROMPT_LABELS_PER_ORG/,
    );
  });
});
