import type { PageQuery } from '../types.ts';

export function pageQuery(q: PageQuery): { page?: number; per_page?: number } {
  return { page: q.page, per_page: q.perPage };
}

export function isoTime(v: string | Date | undefined): string | undefined {
  return v instanceof Date ? v.toISOString() : v;
}

/** A random id for Idempotency-Key (WebCrypto: Node 20+ and browsers). */
export function newIdempotencyKey(): string {
  return `pm-sdk-${crypto.randomUUID()}`;
}
