import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { workerEnvSchema } from '../../workers/src/env.ts';
import { apiEnvSchema, loadApiEnv } from './env.ts';

describe('api env', () => {
  it('has documented defaults for everything but DATABASE_URL', () => {
    const env = loadApiEnv({ DATABASE_URL: 'postgres://u:p@127.0.0.1:5432/db' });
    expect(env).toMatchObject({
      PORT: 3000,
      HOST: '127.0.0.1',
      SYNC_RUN_TIMEOUT_MS: 30_000,
      SYNC_RUN_MAX_IN_FLIGHT: 100,
      SYNC_RUN_TARGET_QUEUE_MS: 250,
      MAX_BODY_BYTES: 1_048_576,
      RATE_LIMIT_FAIL_MODE: 'open',
      TEMPORAL_ADDRESS: '127.0.0.1:7233',
      TEMPORAL_TASK_QUEUE: 'promptmill-runs',
    });
    expect(env.ADMIN_TOKEN).toBeUndefined();
  });

  it('fails fast naming each bad variable', () => {
    expect(() => loadApiEnv({})).toThrow(/DATABASE_URL/);
    expect(() =>
      loadApiEnv({ DATABASE_URL: 'postgres://x@h/db', PORT: 'eighty', RATE_LIMIT_FAIL_MODE: 'maybe' }),
    ).toThrow(/PORT[\s\S]*RATE_LIMIT_FAIL_MODE|RATE_LIMIT_FAIL_MODE[\s\S]*PORT/);
    expect(() => loadApiEnv({ DATABASE_URL: 'postgres://x@h/db', ADMIN_TOKEN: 'short' })).toThrow(
      /ADMIN_TOKEN/,
    );
  });

  it('an empty secret is refused with its own message (compose passes VAR:- defaults as empty), a short one too', () => {
    const base = { DATABASE_URL: 'postgres://x@h/db' };
    expect(() => loadApiEnv({ ...base, ADMIN_TOKEN: '' })).toThrow(
      /ADMIN_TOKEN: ADMIN_TOKEN is set but empty: give it a value of at least 16 characters, or leave it out \(the operator API is then off\)/,
    );
    expect(() => loadApiEnv({ ...base, TOKEN_SIGNING_SECRET: '' })).toThrow(
      /TOKEN_SIGNING_SECRET is set but empty: give it a value of at least 32 characters/,
    );
    expect(() => loadApiEnv({ ...base, TOKEN_SIGNING_SECRET: 'short' })).toThrow(
      /TOKEN_SIGNING_SECRET must be at least 32 characters/,
    );
    const env = loadApiEnv({ ...base, ADMIN_TOKEN: 'a'.repeat(16), TOKEN_SIGNING_SECRET: 's'.repeat(32) });
    expect(env).toMatchObject({ ADMIN_TOKEN: 'a'.repeat(16), TOKEN_SIGNING_SECRET: 's'.repeat(32) });
    expect(loadApiEnv(base).TOKEN_SIGNING_SECRET).toBeUndefined();
  });

  it('SYNC_RUN_MODE: workflow by default; direct reads the provider settings the worker reads', () => {
    const base = { DATABASE_URL: 'postgres://u:p@127.0.0.1:5432/db' };
    const workflow = loadApiEnv({ ...base, OPENAI_API_KEY: '' });
    expect(workflow).toMatchObject({ SYNC_RUN_MODE: 'workflow', DIRECT_RUN_LEASE_MS: 15_000 });
    // workflow mode ignores them: the worker calls the providers
    expect(workflow.providers).toBeUndefined();

    const direct = loadApiEnv({
      ...base,
      SYNC_RUN_MODE: 'direct',
      OPENAI_BASE_URL: 'http://127.0.0.1:9999/v1',
      MODEL_PRICES: JSON.stringify({ 'my-model': { input: 1, output: 2 } }),
    });
    expect(direct.SYNC_RUN_MODE).toBe('direct');
    expect(direct.providers).toMatchObject({
      OPENAI_BASE_URL: 'http://127.0.0.1:9999/v1',
      PROVIDERS: [],
      MODEL_PRICES: { 'my-model': { input: 1, output: 2 } },
      PROVIDER_TIMEOUT_MS: 60_000,
      METRICS_PROMPT_LABELS_PER_ORG: 50,
    });

    expect(() => loadApiEnv({ ...base, SYNC_RUN_MODE: 'fast' })).toThrow(/SYNC_RUN_MODE/);
    expect(() => loadApiEnv({ ...base, SYNC_RUN_MODE: 'direct', PROVIDERS: '[{' })).toThrow(
      /api: invalid environment\n {2}PROVIDERS: must be valid JSON/,
    );
    expect(() => loadApiEnv({ ...base, SYNC_RUN_MODE: 'direct', MODEL_PROVIDERS: '{"m":"nope"}' })).toThrow(
      /routed to provider 'nope'/,
    );
    expect(() => loadApiEnv({ ...base, DIRECT_RUN_LEASE_MS: '10' })).toThrow(/DIRECT_RUN_LEASE_MS/);
    expect(() => loadApiEnv({ ...base, SYNC_RUN_MODE: 'direct', API_EMBEDDED_WORKER: 'true' })).toThrow(
      /API_EMBEDDED_WORKER: not with SYNC_RUN_MODE=direct/,
    );
  });

  it('the README configuration table lists every api and worker variable', () => {
    const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
    const names = [...Object.keys(apiEnvSchema.shape), ...Object.keys(workerEnvSchema.shape)];
    const missing = names.filter((n) => !readme.includes(`| \`${n}\` |`));
    expect(missing).toEqual([]);
  });
});
