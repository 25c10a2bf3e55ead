import { createHash } from 'node:crypto';
import type { Request, Response } from 'express';

/** API.md: GETs on prompts and versions are revalidated on every use, per credential. */
export const REVALIDATE_CACHE_CONTROL = 'private, max-age=0, must-revalidate';

/** A strong validator: the same JSON body always gets the same tag, on any api process. */
export function etagFor(json: string): string {
  return `"${createHash('sha256').update(json).digest('base64url').slice(0, 32)}"`;
}

/** Strips `W/`: If-None-Match uses the weak comparison (RFC 9110 §13.1.2). */
const opaque = (tag: string) => (tag.startsWith('W/') ? tag.slice(2) : tag);

/** Whether an If-None-Match header value matches the current tag (`*` matches any). */
export function ifNoneMatchHits(header: string | undefined, etag: string): boolean {
  if (header === undefined) return false;
  const wanted = opaque(etag);
  return header.split(',').some((candidate) => {
    const tag = candidate.trim();
    return tag === '*' || opaque(tag) === wanted;
  });
}

/**
 * Sends a cacheable 200 JSON body with ETag, Cache-Control and Vary, or a bodiless 304 when the
 * client's If-None-Match already names this representation. Errors never come through here (the
 * error handler marks them `no-store`).
 */
export function sendCacheable(req: Request, res: Response, body: unknown): void {
  const json = JSON.stringify(body);
  const etag = etagFor(json);
  res.setHeader('ETag', etag);
  res.setHeader('Cache-Control', REVALIDATE_CACHE_CONTROL);
  // `private` keeps shared caches out; Vary keeps a browser from reusing another key's answer, on
  // either header a key may come in.
  res.vary('Authorization');
  res.vary('x-api-key');
  if (ifNoneMatchHits(req.get('if-none-match'), etag)) {
    res.status(304).end();
    return;
  }
  res.status(200).type('application/json').send(json);
}
