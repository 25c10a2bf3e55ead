import { createHash } from 'node:crypto';

/**
 * An organization's tag in metric labels: the first 8 hex characters of sha256(org id). Prompt
 * labels are `<tag>/<prompt name>`, so two organizations' prompts of one name stay apart, without
 * putting ids in labels; `GET /v1/me` shows an organization its own tag (organization.metricsTag).
 */
export function orgMetricTag(orgId: string): string {
  return createHash('sha256').update(orgId).digest('hex').slice(0, 8);
}
