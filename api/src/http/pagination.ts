import { z } from 'zod';
import { positiveInt32Param } from './zod-primitives.ts';

/** `page` 1-based (default 1); `per_page` default 20, max 100 (larger → 400 VALIDATION_ERROR). */
export const paginationQuerySchema = z.object({
  page: positiveInt32Param().default(1),
  per_page: z.coerce.number().int().min(1).max(100, 'per_page must be at most 100').default(20),
});

export interface Page {
  page: number;
  perPage: number;
  offset: number;
}

export function toPage(q: z.infer<typeof paginationQuerySchema>): Page {
  return { page: q.page, perPage: q.per_page, offset: (q.page - 1) * q.per_page };
}

/** The list envelope: `{ data, meta: { page, per_page, total } }`; a page past the end has `data: []`. */
export function listBody<T>(data: T[], page: Page, total: number) {
  return { data, meta: { page: page.page, per_page: page.perPage, total } };
}
