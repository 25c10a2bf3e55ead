/**
 * Which counter-store failures mean "the store is unavailable" (RATE_LIMIT_FAIL_MODE applies) and which
 * are anything else — a bug, a constraint violation, a value a column does not take — that must never
 * turn into admitting requests unmetered.
 */

/** Errors of the client library (postgres.js) and of Node's sockets when no answer can come. */
const UNREACHABLE_CODES = new Set([
  'CONNECTION_CLOSED',
  'CONNECTION_ENDED',
  'CONNECTION_DESTROYED',
  'CONNECT_TIMEOUT',
  'ECONNREFUSED',
  'ECONNRESET',
  'ECONNABORTED',
  'EPIPE',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EHOSTDOWN',
  'ENOTFOUND',
  'EAI_AGAIN',
]);

/** SQLSTATEs of a server that cannot serve now (rather than of a statement that is wrong). */
const UNAVAILABLE_SQLSTATES = new Set([
  '53000', // insufficient_resources
  '53100', // disk_full
  '53200', // out_of_memory
  '53300', // too_many_connections
  '57014', // query_canceled (statement_timeout, pg_cancel_backend)
  '57P01', // admin_shutdown
  '57P02', // crash_shutdown
  '57P03', // cannot_connect_now (starting up, recovery)
  '25006', // read_only_sql_transaction: a failover left the pool on a standby
]);

export function isStoreUnavailable(err: unknown): boolean {
  if (typeof err !== 'object' || err === null) return false;
  const code = (err as { code?: unknown }).code;
  if (typeof code === 'string') {
    // class 08: connection exception (connection_failure, connection_does_not_exist, …)
    if (UNREACHABLE_CODES.has(code) || UNAVAILABLE_SQLSTATES.has(code) || /^08[0-9A-Z]{3}$/.test(code)) {
      return true;
    }
  }
  // a connect to several addresses (IPv4 and IPv6) that all failed
  const inner = (err as { errors?: unknown }).errors;
  return Array.isArray(inner) && inner.length > 0 && inner.every(isStoreUnavailable);
}
