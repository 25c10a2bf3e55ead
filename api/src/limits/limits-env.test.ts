import { describe, expect, it } from 'vitest';
import { loadApiEnv } from '../env.ts';

const base = { DATABASE_URL: 'postgres://u:p@127.0.0.1:5432/db' };

describe('api env: limits, tokens and the test clock', () => {
  it('has documented defaults', () => {
    const env = loadApiEnv(base);
    expect(env).toMatchObject({
      RATE_LIMIT_FAIL_MODE: 'open',
      RATE_LIMITS_ENABLED: true,
      RATE_LIMIT_TIMEOUT_MS: 1000,
      GLOBAL_RATE_LIMIT_PER_MINUTE: 0,
      RATE_LIMIT_LEASE_MAX: 1000,
      AUTH_CACHE_MAX_AGE_MS: 30_000,
      AUTH_FAILURE_LIMIT_PER_MINUTE: 30,
      RATE_LIMIT_CLEANUP_INTERVAL_MS: 60_000,
      USAGE_FLUSH_INTERVAL_MS: 1000,
      OAUTH_TOKEN_TTL_SECONDS: 3600,
      TEST_CLOCK: false,
    });
    expect(env.TOKEN_SIGNING_SECRET).toBeUndefined();
  });

  it('refuses bad values', () => {
    expect(() => loadApiEnv({ ...base, RATE_LIMIT_FAIL_MODE: 'maybe' })).toThrow(/RATE_LIMIT_FAIL_MODE/);
    expect(() => loadApiEnv({ ...base, TOKEN_SIGNING_SECRET: 'short' })).toThrow(/TOKEN_SIGNING_SECRET/);
    expect(() => loadApiEnv({ ...base, OAUTH_TOKEN_TTL_SECONDS: '5' })).toThrow(/OAUTH_TOKEN_TTL_SECONDS/);
    expect(() => loadApiEnv({ ...base, AUTH_FAILURE_LIMIT_PER_MINUTE: '-1' })).toThrow(
      /AUTH_FAILURE_LIMIT_PER_MINUTE/,
    );
    expect(() => loadApiEnv({ ...base, RATE_LIMIT_LEASE_MAX: '0' })).toThrow(/RATE_LIMIT_LEASE_MAX/);
    expect(() => loadApiEnv({ ...base, AUTH_CACHE_MAX_AGE_MS: '-5' })).toThrow(/AUTH_CACHE_MAX_AGE_MS/);
  });

  it('accepts TEST_CLOCK only with NODE_ENV=test', () => {
    expect(() => loadApiEnv({ ...base, TEST_CLOCK: 'true' })).toThrow(
      /TEST_CLOCK: only allowed with NODE_ENV=test/,
    );
    expect(() => loadApiEnv({ ...base, TEST_CLOCK: 'true', NODE_ENV: 'production' })).toThrow(/TEST_CLOCK/);
    expect(loadApiEnv({ ...base, TEST_CLOCK: 'true', NODE_ENV: 'test' }).TEST_CLOCK).toBe(true);
  });
});
