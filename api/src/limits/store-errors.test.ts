import { describe, expect, it } from 'vitest';
import { isStoreUnavailable } from './store-errors.ts';

const withCode = (code: string) => Object.assign(new Error(code), { code });

describe('isStoreUnavailable: only outages follow RATE_LIMIT_FAIL_MODE', () => {
  it('connection refused, closed or timed out; too many connections; shutdown; a read-only standby', () => {
    for (const code of [
      'ECONNREFUSED',
      'ECONNRESET',
      'ETIMEDOUT',
      'ENOTFOUND',
      'CONNECTION_CLOSED',
      'CONNECTION_ENDED',
      'CONNECTION_DESTROYED',
      'CONNECT_TIMEOUT',
      '08006', // connection_failure
      '08001', // sqlclient_unable_to_establish_sqlconnection
      '53300', // too_many_connections
      '57P01', // admin_shutdown
      '57P03', // cannot_connect_now
      '57014', // query_canceled (statement_timeout)
      '25006', // read_only_sql_transaction
    ]) {
      expect(isStoreUnavailable(withCode(code)), code).toBe(true);
    }
    const both = Object.assign(new AggregateError([withCode('ECONNREFUSED'), withCode('ECONNREFUSED')]), {});
    expect(isStoreUnavailable(both)).toBe(true);
  });

  it('anything else is not: bugs, constraint violations, values a column does not take', () => {
    for (const code of [
      '22003', // numeric_value_out_of_range (a limit above int4)
      '22P02', // invalid_text_representation
      '23505', // unique_violation
      '42883', // undefined_function (a migration not applied)
      '42P01', // undefined_table
      '40P01', // deadlock_detected
      'UNDEFINED_VALUE',
    ]) {
      expect(isStoreUnavailable(withCode(code)), code).toBe(false);
    }
    expect(isStoreUnavailable(new TypeError('x is undefined'))).toBe(false);
    expect(isStoreUnavailable('ECONNREFUSED')).toBe(false);
    expect(isStoreUnavailable(null)).toBe(false);
    expect(isStoreUnavailable(new AggregateError([withCode('ECONNREFUSED'), withCode('22003')]))).toBe(false);
  });
});
