import { isIPv6 } from 'node:net';
import type { Request } from 'express';
import { AppError } from '../http/app-error.ts';

/**
 * Failed authentications per client address (401 on the keyed routes, invalid_client on /oauth/token):
 * a token bucket of `perMinute` failures per address, refilled at that rate. While an address has none
 * left, every request from it is refused with 429 before anything is read from the database; until
 * then its successful requests are not affected.
 *
 * Per process, in memory, on purpose: this is abuse protection (it keeps a guessing or misconfigured
 * client from turning into one key lookup per request), not a tenant quota, so it needs no exactness
 * across processes — N processes allow at most N times the budget, still a small constant — and it
 * costs no I/O on the path it protects. IPv6 clients are grouped by /64 (one host's usual allocation).
 */
export interface AuthFailureLimiter {
  /** undefined when the address may try; else how long until it may again */
  blocked(address: string): { retryInMs: number } | undefined;
  recordFailure(address: string): void;
  readonly perMinute: number;
}

/** Express's client address: the socket's, or X-Forwarded-For's as far as TRUST_PROXY trusts it. */
export function clientAddress(req: Request): string {
  return req.ip ?? req.socket.remoteAddress ?? 'unknown';
}

/** The address a budget belongs to: IPv4 as is (also when IPv4-mapped), IPv6 by its /64 prefix. */
export function addressKey(address: string): string {
  const mapped = /^::ffff:(\d{1,3}(?:\.\d{1,3}){3})$/i.exec(address);
  if (mapped) return mapped[1]!;
  const ip = address.split('%')[0] ?? address;
  if (!isIPv6(ip)) return address;
  const groups = (s: string) =>
    s === '' ? [] : s.split(':').flatMap((g) => (g.includes('.') ? ['0', '0'] : [g]));
  const [headText = '', tailText] = ip.split('::');
  const head = groups(headText);
  const tail = tailText === undefined ? [] : groups(tailText);
  const all = [...head, ...Array<string>(Math.max(0, 8 - head.length - tail.length)).fill('0'), ...tail];
  return `${all
    .slice(0, 4)
    .map((g) => Number.parseInt(g, 16).toString(16))
    .join(':')}::/64`;
}

interface Bucket {
  tokens: number;
  last: number;
}

export function createAuthFailureLimiter(
  perMinute: number,
  opts: { maxAddresses?: number; monotonicMs?: () => number } = {},
): AuthFailureLimiter {
  const maxAddresses = opts.maxAddresses ?? 100_000;
  const monotonicMs = opts.monotonicMs ?? (() => performance.now());
  const ratePerMs = perMinute / 60_000;
  const buckets = new Map<string, Bucket>();

  const refilled = (b: Bucket, t: number) => {
    b.tokens = Math.min(perMinute, b.tokens + (t - b.last) * ratePerMs);
    b.last = t;
    return b;
  };

  /** forgets addresses whose budget is whole again; then, if still too many, the oldest */
  const prune = (t: number) => {
    for (const [key, b] of buckets) if (refilled(b, t).tokens >= perMinute) buckets.delete(key);
    for (const key of buckets.keys()) {
      if (buckets.size < maxAddresses) break;
      buckets.delete(key);
    }
  };

  return {
    perMinute,
    blocked(address) {
      if (perMinute <= 0) return undefined;
      const b = buckets.get(addressKey(address));
      if (!b) return undefined;
      const { tokens } = refilled(b, monotonicMs());
      return tokens >= 1 ? undefined : { retryInMs: Math.ceil((1 - tokens) / ratePerMs) };
    },
    recordFailure(address) {
      if (perMinute <= 0) return;
      const t = monotonicMs();
      const key = addressKey(address);
      let b = buckets.get(key);
      if (!b) {
        if (buckets.size >= maxAddresses) prune(t);
        b = { tokens: perMinute, last: t };
        buckets.set(key, b);
      }
      refilled(b, t).tokens = Math.max(0, b.tokens - 1);
    },
  };
}

/** 429 RATE_LIMITED for an address out of failure budget (no key is known, so no `rateLimits`). */
export function authFailuresError(limiter: AuthFailureLimiter, retryInMs: number): AppError {
  const retryAfter = Math.max(1, Math.ceil(retryInMs / 1000));
  return new AppError('RATE_LIMITED', 'Too many failed authentications from this address', {
    details: [
      {
        field: 'authentication',
        message: `Limit of ${limiter.perMinute} failed authentications per minute per client address reached`,
      },
    ],
    headers: { 'Retry-After': String(retryAfter) },
    extra: { retryAfter },
  });
}
