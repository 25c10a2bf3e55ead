import type { Queryable, Sql } from '../client.ts';

// Webhook endpoints (whk_) and the organization's default signing secret.

export interface WebhookEndpointRow {
  id: string;
  orgId: string;
  url: string;
  description: string;
  events: string[];
  enabled: boolean;
  disabledReason: string | null;
  /** when the previous secret stops signing (after a rotation), if it still does */
  previousSecretExpiresAt: Date | null;
  failingSince: Date | null;
  createdAt: Date;
  updatedAt: Date;
}

const ENDPOINT_COLUMNS = (sql: Queryable) => sql`
  id, org_id AS "orgId", url, description, events, enabled, disabled_reason AS "disabledReason",
  CASE WHEN previous_secret_expires_at > now() THEN previous_secret_expires_at END AS "previousSecretExpiresAt",
  failing_since AS "failingSince", created_at AS "createdAt", updated_at AS "updatedAt"`;

export async function insertWebhookEndpoint(
  sql: Queryable,
  e: {
    id: string;
    orgId: string;
    url: string;
    description: string;
    events: string[];
    enabled: boolean;
    secret: string;
  },
): Promise<WebhookEndpointRow> {
  const [row] = await sql<WebhookEndpointRow[]>`
    INSERT INTO webhook_endpoints (id, org_id, url, description, events, enabled, secret)
    VALUES (${e.id}, ${e.orgId}, ${e.url}, ${e.description}, ${e.events}, ${e.enabled}, ${e.secret})
    RETURNING ${ENDPOINT_COLUMNS(sql)}`;
  return row!;
}

export async function findWebhookEndpoint(
  sql: Queryable,
  orgId: string,
  id: string,
): Promise<WebhookEndpointRow | undefined> {
  const [row] = await sql<WebhookEndpointRow[]>`
    SELECT ${ENDPOINT_COLUMNS(sql)} FROM webhook_endpoints
    WHERE org_id = ${orgId} AND id = ${id} AND deleted_at IS NULL`;
  return row;
}

export async function listWebhookEndpoints(
  sql: Queryable,
  orgId: string,
  page: { limit: number; offset: number },
): Promise<{ rows: WebhookEndpointRow[]; total: number }> {
  const [rows, [count]] = await Promise.all([
    sql<WebhookEndpointRow[]>`
      SELECT ${ENDPOINT_COLUMNS(sql)} FROM webhook_endpoints
      WHERE org_id = ${orgId} AND deleted_at IS NULL
      ORDER BY created_at, id LIMIT ${page.limit} OFFSET ${page.offset}`,
    sql<{ total: number }[]>`
      SELECT count(*)::int AS total FROM webhook_endpoints WHERE org_id = ${orgId} AND deleted_at IS NULL`,
  ]);
  return { rows: [...rows], total: count?.total ?? 0 };
}

export interface WebhookEndpointPatch {
  url?: string | undefined;
  description?: string | undefined;
  events?: string[] | undefined;
  enabled?: boolean | undefined;
}

/** Changes an endpoint; enabling it again clears the system's reason and its failure streak. */
export async function updateWebhookEndpoint(
  sql: Queryable,
  orgId: string,
  id: string,
  p: WebhookEndpointPatch,
): Promise<WebhookEndpointRow | undefined> {
  const [row] = await sql<WebhookEndpointRow[]>`
    UPDATE webhook_endpoints SET
      url = COALESCE(${p.url ?? null}, url),
      description = COALESCE(${p.description ?? null}, description),
      events = COALESCE(${p.events ?? null}::text[], events),
      enabled = COALESCE(${p.enabled ?? null}::boolean, enabled),
      disabled_reason = CASE WHEN ${p.enabled ?? null}::boolean THEN NULL ELSE disabled_reason END,
      failing_since = CASE WHEN ${p.enabled ?? null}::boolean THEN NULL ELSE failing_since END,
      updated_at = now()
    WHERE org_id = ${orgId} AND id = ${id} AND deleted_at IS NULL
    RETURNING ${ENDPOINT_COLUMNS(sql)}`;
  return row;
}

/** Deletes an endpoint: its pending deliveries stop at their next attempt. */
export async function deleteWebhookEndpoint(
  sql: Queryable,
  orgId: string,
  id: string,
): Promise<WebhookEndpointRow | undefined> {
  const [row] = await sql<WebhookEndpointRow[]>`
    UPDATE webhook_endpoints SET deleted_at = now(), enabled = false, updated_at = now()
    WHERE org_id = ${orgId} AND id = ${id} AND deleted_at IS NULL
    RETURNING ${ENDPOINT_COLUMNS(sql)}`;
  return row;
}

/**
 * A new secret; the current one keeps signing (as a second signature) for `graceSeconds`. A second
 * rotation within the grace period replaces the older secret: at most two sign at once.
 */
export async function rotateWebhookSecret(
  sql: Queryable,
  orgId: string,
  id: string,
  secret: string,
  graceSeconds: number,
): Promise<WebhookEndpointRow | undefined> {
  const [row] = await sql<WebhookEndpointRow[]>`
    UPDATE webhook_endpoints SET previous_secret = secret, secret = ${secret},
      previous_secret_expires_at = now() + make_interval(secs => ${graceSeconds}), updated_at = now()
    WHERE org_id = ${orgId} AND id = ${id} AND deleted_at IS NULL
    RETURNING ${ENDPOINT_COLUMNS(sql)}`;
  return row;
}

/** The organization's default secret (signs runs' own webhookUrl deliveries), made on first use. */
export async function orgWebhookSecret(sql: Sql, orgId: string, fresh: string): Promise<string> {
  const [row] = await sql<{ secret: string }[]>`
    WITH made AS (
      INSERT INTO webhook_org_secrets (org_id, secret) VALUES (${orgId}, ${fresh})
      ON CONFLICT (org_id) DO NOTHING RETURNING secret
    )
    SELECT secret FROM made UNION ALL SELECT secret FROM webhook_org_secrets WHERE org_id = ${orgId}`;
  return row!.secret;
}

/** Replaces the organization's default secret. */
export async function rotateOrgWebhookSecret(sql: Queryable, orgId: string, secret: string): Promise<void> {
  await sql`
    INSERT INTO webhook_org_secrets (org_id, secret) VALUES (${orgId}, ${secret})
    ON CONFLICT (org_id) DO UPDATE SET secret = EXCLUDED.secret, created_at = now()`;
}
