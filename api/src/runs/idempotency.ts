import { createHash } from 'node:crypto';
import { z } from 'zod';
import { AppError } from '../http/app-error.ts';

/** How long an `Idempotency-Key` dedupes requests (per organization). */
export const IDEMPOTENCY_TTL_SECONDS = 24 * 60 * 60;

/** Longest `Prefer: wait=N` honoured; larger values are capped. */
export const MAX_PREFER_WAIT_SECONDS = 60;

export const idempotencyKeySchema = z
  .string()
  .min(1, 'Idempotency-Key must be 1 to 255 characters')
  .max(255, 'Idempotency-Key must be 1 to 255 characters');

/** The `Idempotency-Key` header, or undefined; malformed → 400 VALIDATION_ERROR naming the header. */
export function readIdempotencyKey(value: string | undefined): string | undefined {
  if (value === undefined) return undefined;
  const parsed = idempotencyKeySchema.safeParse(value);
  if (!parsed.success) {
    const message = parsed.error.issues[0]?.message ?? 'Invalid Idempotency-Key';
    throw new AppError('VALIDATION_ERROR', message, { details: [{ field: 'Idempotency-Key', message }] });
  }
  return parsed.data;
}

/** JSON with object keys sorted at every level, so equal bodies hash equally whatever their key order. */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value) ?? 'null';
  if (Array.isArray(value)) return `[${value.map((v) => canonicalJson(v)).join(',')}]`;
  const entries = Object.entries(value as Record<string, unknown>)
    .filter(([, v]) => v !== undefined)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
}

/** What "the same request" means for idempotency: the route plus the canonical body. */
export function requestHash(route: string, body: unknown): string {
  return createHash('sha256').update(route).update('\n').update(canonicalJson(body)).digest('hex');
}

/**
 * `Prefer: wait=N` (RFC 7240) → seconds to wait, capped at 60. Preferences it cannot honour
 * (absent, not a whole number, 0) are ignored, as RFC 7240 asks, rather than refused.
 */
export function preferredWaitSeconds(prefer: string | undefined): number | undefined {
  if (!prefer) return undefined;
  for (const token of prefer.split(/[,;]/)) {
    const match = /^\s*wait\s*=\s*"?(\d{1,9})"?\s*$/i.exec(token);
    if (!match) continue;
    const seconds = Number(match[1]);
    return seconds > 0 ? Math.min(seconds, MAX_PREFER_WAIT_SECONDS) : undefined;
  }
  return undefined;
}
