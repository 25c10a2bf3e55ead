import type { RequestHandler } from 'express';

/** `scheme://host[:port]`, lowercased, default port dropped; undefined for anything else (incl. "null"). */
export function normalizeOrigin(value: string): string | undefined {
  try {
    const url = new URL(value);
    if (url.protocol !== 'http:' && url.protocol !== 'https:') return undefined;
    return url.origin;
  } catch {
    return undefined;
  }
}

/** An allowed-origins entry must be a bare origin: no path, query or fragment. */
export function isBareOrigin(value: string): boolean {
  const origin = normalizeOrigin(value);
  if (!origin) return false;
  const url = new URL(value);
  return (url.pathname === '/' || url.pathname === '') && !url.search && !url.hash && !url.username;
}

/**
 * Requests without `Origin` (servers) are never restricted; a key without allowed origins accepts
 * any origin; otherwise the normalized Origin must be one of the key's.
 */
export function isOriginAllowed(origin: string | undefined, allowed: readonly string[] | null): boolean {
  if (origin === undefined) return true;
  if (!allowed || allowed.length === 0) return true;
  const normalized = normalizeOrigin(origin);
  return normalized !== undefined && allowed.includes(normalized);
}

const ALLOWED_METHODS = 'GET, POST, PUT, PATCH, DELETE, OPTIONS';
const DEFAULT_ALLOWED_HEADERS =
  'authorization, x-api-key, content-type, idempotency-key, prefer, x-request-id, if-none-match';
const EXPOSED_HEADERS = [
  'X-Request-Id',
  'X-RateLimit-Limit',
  'X-RateLimit-Remaining',
  'X-RateLimit-Reset',
  'Retry-After',
  'ETag',
  'Location',
  'X-Cache',
  // read by browser clients (the SDK): a stream's run id, an idempotent replay, an applied Prefer: wait
  'X-Run-Id',
  'Idempotent-Replayed',
  'Preference-Applied',
].join(', ');

/**
 * CORS for browser clients. Preflights carry no key, so they are answered for any origin (the real
 * request is then checked against its key's allowed origins by `authenticate`, which strips
 * Access-Control-Allow-Origin from a 403 ORIGIN_NOT_ALLOWED). Keys are sent as headers, never as
 * cookies, so credentials mode is not enabled.
 */
export function cors(): RequestHandler {
  return (req, res, next) => {
    const origin = req.get('origin');
    if (origin === undefined) return next();
    res.vary('Origin');
    res.setHeader('Access-Control-Allow-Origin', origin);
    if (req.method === 'OPTIONS' && req.get('access-control-request-method')) {
      res.setHeader('Access-Control-Allow-Methods', ALLOWED_METHODS);
      res.setHeader(
        'Access-Control-Allow-Headers',
        req.get('access-control-request-headers') ?? DEFAULT_ALLOWED_HEADERS,
      );
      res.setHeader('Access-Control-Max-Age', '600');
      res.vary('Access-Control-Request-Headers');
      res.status(204).end();
      return;
    }
    res.setHeader('Access-Control-Expose-Headers', EXPOSED_HEADERS);
    next();
  };
}
