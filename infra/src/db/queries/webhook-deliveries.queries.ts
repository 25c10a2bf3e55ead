import type { Queryable, Sql } from '../client.ts';

// Webhook delivery: the outbox's fan-out into messages (one per event and target), the claims of
// their workflow starts, each attempt's log row, and the delivery log the API reads.

const NEW_MESSAGE_ID = (sql: Queryable) =>
  sql`'msg_' || rtrim(translate(encode(uuid_send(gen_random_uuid()), 'base64'), '+/', '-_'), '=')`;

/**
 * Fans committed events out into messages, once: events not yet dispatched (oldest first; rows
 * another dispatcher holds are skipped) get a message for every enabled endpoint of their
 * organization subscribed to their type, and a run's (or chain run's) final event one more for its
 * own webhookUrl. Marks them dispatched in the same statement and returns the new messages' ids, claimed
 * for a workflow start by the caller.
 */
export async function fanOutEvents(sql: Queryable, limit: number): Promise<string[]> {
  const rows = await sql<{ id: string }[]>`
    WITH claimed AS (
      SELECT id, org_id, type, payload FROM events
      WHERE dispatched_at IS NULL ORDER BY created_at LIMIT ${limit}
      FOR UPDATE SKIP LOCKED
    ), marked AS (
      UPDATE events e SET dispatched_at = now() FROM claimed c WHERE e.id = c.id
    ), to_endpoints AS (
      INSERT INTO webhook_messages (id, org_id, event_id, endpoint_id, event_type, workflow_claimed_at)
      SELECT ${NEW_MESSAGE_ID(sql)}, c.org_id, c.id, w.id, c.type, now()
      FROM claimed c JOIN webhook_endpoints w
        ON w.org_id = c.org_id AND w.enabled AND w.deleted_at IS NULL AND c.type = ANY(w.events)
      ON CONFLICT DO NOTHING
      RETURNING id
    ), to_runs AS (
      INSERT INTO webhook_messages (id, org_id, event_id, url, event_type, workflow_claimed_at)
      SELECT ${NEW_MESSAGE_ID(sql)}, c.org_id, c.id, r.webhook_url, c.type, now()
      FROM claimed c JOIN runs r ON r.id = c.payload->>'execution_id' AND r.org_id = c.org_id
      WHERE c.type IN ('prompt.executed', 'prompt.failed') AND r.webhook_url IS NOT NULL
      ON CONFLICT DO NOTHING
      RETURNING id
    ), to_chain_runs AS (
      INSERT INTO webhook_messages (id, org_id, event_id, url, event_type, workflow_claimed_at)
      SELECT ${NEW_MESSAGE_ID(sql)}, c.org_id, c.id, cr.webhook_url, c.type, now()
      FROM claimed c JOIN chain_runs cr ON cr.id = c.payload->>'workflow_run_id' AND cr.org_id = c.org_id
      WHERE c.type IN ('workflow.completed', 'workflow.failed') AND cr.webhook_url IS NOT NULL
      ON CONFLICT DO NOTHING
      RETURNING id
    )
    SELECT id FROM to_endpoints UNION ALL SELECT id FROM to_runs UNION ALL SELECT id FROM to_chain_runs`;
  return rows.map((r) => r.id);
}

/**
 * Messages whose workflow may never have started: pending, no attempt yet, and claimed longer than
 * `staleSeconds` ago (the claimer died before or during the start). They are claimed again; starting
 * one whose workflow exists is refused by Temporal (the workflow id is the message id), so a second
 * start is harmless.
 */
export async function reclaimUnstartedMessages(
  sql: Queryable,
  opts: { staleSeconds: number; limit: number },
): Promise<string[]> {
  const rows = await sql<{ id: string }[]>`
    UPDATE webhook_messages m SET workflow_claimed_at = now()
    FROM (
      SELECT id FROM webhook_messages
      WHERE status = 'pending' AND attempts = 0
        AND (workflow_claimed_at IS NULL
             OR workflow_claimed_at < now() - make_interval(secs => ${opts.staleSeconds}))
      ORDER BY created_at LIMIT ${opts.limit}
      FOR UPDATE SKIP LOCKED
    ) s
    WHERE m.id = s.id
    RETURNING m.id`;
  return rows.map((r) => r.id);
}

/** A start that failed (Temporal unreachable): the sweeper tries again at its next round. */
export async function releaseMessageClaims(sql: Queryable, ids: readonly string[]): Promise<void> {
  if (ids.length === 0) return;
  await sql`UPDATE webhook_messages SET workflow_claimed_at = NULL WHERE id = ANY(${ids as string[]}) AND attempts = 0`;
}

/** What one attempt needs: the message, its event, its target and the secrets that sign it. */
export interface DeliveryTarget {
  messageId: string;
  orgId: string;
  status: 'pending' | 'succeeded' | 'failed' | 'canceled';
  attempts: number;
  eventId: string;
  eventType: string;
  eventPayload: Record<string, unknown>;
  eventCreatedAt: Date;
  endpointId: string | null;
  url: string | null;
  /** false when the endpoint is disabled or deleted */
  isActive: boolean;
  /** newest first; the previous one only while its grace period lasts */
  secrets: string[];
  /** the endpoint's last change (Svix mode mirrors it again after one) */
  endpointUpdatedAt: Date | null;
  description: string | null;
}

export async function findDeliveryTarget(
  sql: Queryable,
  messageId: string,
): Promise<DeliveryTarget | undefined> {
  const [row] = await sql<DeliveryTarget[]>`
    SELECT m.id AS "messageId", m.org_id AS "orgId", m.status, m.attempts, e.id AS "eventId",
           e.type AS "eventType", e.payload AS "eventPayload", e.created_at AS "eventCreatedAt",
           m.endpoint_id AS "endpointId", COALESCE(w.url, m.url) AS url,
           (m.endpoint_id IS NULL OR (w.deleted_at IS NULL AND (w.enabled OR m.event_type = 'webhook.test'))) AS "isActive",
           CASE WHEN m.endpoint_id IS NULL THEN ARRAY[s.secret]
                WHEN w.previous_secret IS NOT NULL AND w.previous_secret_expires_at > now()
                  THEN ARRAY[w.secret, w.previous_secret]
                ELSE ARRAY[w.secret] END AS secrets,
           w.updated_at AS "endpointUpdatedAt", w.description
    FROM webhook_messages m JOIN events e ON e.id = m.event_id
    LEFT JOIN webhook_endpoints w ON w.id = m.endpoint_id
    LEFT JOIN webhook_org_secrets s ON s.org_id = m.org_id
    WHERE m.id = ${messageId}`;
  return row;
}

export interface AttemptRecord {
  messageId: string;
  endpointId: string | null;
  status: 'succeeded' | 'failed';
  responseStatus: number | null;
  responseBody: string | null;
  latencyMs: number;
  error: string | null;
  /** the message's state after this attempt */
  messageStatus: 'pending' | 'succeeded' | 'failed';
  nextAttemptInMs: number | null;
  /** an endpoint failing this long without a success is disabled */
  disableAfterSeconds: number;
}

/**
 * Logs one attempt and moves its message and endpoint on, in one transaction: a success ends the
 * endpoint's failure streak; a failure starts one or, once it has lasted `disableAfterSeconds`,
 * disables the endpoint and writes `webhook.endpoint_disabled`. Returns whether it disabled it.
 */
export async function recordDeliveryAttempt(
  sql: Sql,
  a: AttemptRecord,
  disabledEventId: string,
): Promise<boolean> {
  return (await sql.begin(async (tx) => {
    await tx`
      WITH m AS (
        UPDATE webhook_messages SET attempts = attempts + 1, status = ${a.messageStatus},
          next_attempt_at = CASE WHEN ${a.nextAttemptInMs}::int IS NULL THEN NULL
                                 ELSE now() + make_interval(secs => ${a.nextAttemptInMs}::int / 1000.0) END,
          updated_at = now()
        WHERE id = ${a.messageId}
        RETURNING attempts
      )
      INSERT INTO webhook_attempts (message_id, attempt, status, response_status, response_body, latency_ms, error)
      SELECT ${a.messageId}, m.attempts, ${a.status}, ${a.responseStatus}, ${a.responseBody}, ${a.latencyMs}, ${a.error}
      FROM m`;
    if (!a.endpointId) return false;
    if (a.status === 'succeeded') {
      await tx`UPDATE webhook_endpoints SET failing_since = NULL WHERE id = ${a.endpointId} AND failing_since IS NOT NULL`;
      return false;
    }
    // one UPDATE: the streak starts at the first failure, and a streak of the whole period disables
    // (a row a WITH part updated cannot be updated again by the same statement, so `was` only reads)
    const [disabled] = await tx<{ orgId: string; url: string; isDisabled: boolean }[]>`
      WITH was AS (
        SELECT id, COALESCE(enabled AND failing_since <= now() - make_interval(secs => ${a.disableAfterSeconds}), false) AS expired
        FROM webhook_endpoints WHERE id = ${a.endpointId} AND deleted_at IS NULL
        FOR UPDATE
      )
      UPDATE webhook_endpoints w SET
        failing_since = COALESCE(w.failing_since, now()),
        enabled = w.enabled AND NOT was.expired,
        disabled_reason = CASE WHEN was.expired THEN 'failing' ELSE w.disabled_reason END,
        updated_at = CASE WHEN was.expired THEN now() ELSE w.updated_at END
      FROM was WHERE w.id = was.id
      RETURNING w.org_id AS "orgId", w.url, was.expired AS "isDisabled"`;
    if (!disabled?.isDisabled) return false;
    await tx`
      INSERT INTO events (id, org_id, type, payload)
      VALUES (${disabledEventId}, ${disabled.orgId}, 'webhook.endpoint_disabled',
              ${tx.json({ endpoint_id: a.endpointId, url: disabled.url, reason: 'failing' })})`;
    return true;
  })) as boolean;
}

/** Svix mode: the message was handed over to Svix as `svixMessageId` (Svix attempts it from here). */
export async function recordSvixHandoff(
  sql: Queryable,
  messageId: string,
  svixMessageId: string,
): Promise<void> {
  await sql`
    UPDATE webhook_messages SET svix_message_id = ${svixMessageId}, status = 'succeeded', attempts = attempts + 1,
      next_attempt_at = NULL, updated_at = now()
    WHERE id = ${messageId}`;
}

/** A message whose endpoint was disabled or deleted before its next attempt: nothing more is sent. */
export async function cancelMessage(sql: Queryable, messageId: string): Promise<void> {
  await sql`
    UPDATE webhook_messages SET status = 'canceled', next_attempt_at = NULL, updated_at = now()
    WHERE id = ${messageId} AND status = 'pending'`;
}

export interface DeliveryAttemptView {
  attempt: number;
  status: 'succeeded' | 'failed';
  responseStatus: number | null;
  responseBody: string | null;
  latencyMs: number;
  error: string | null;
  createdAt: Date;
}

export interface DeliveryView {
  id: string;
  /** Svix mode: the Svix message (its attempts are read from Svix) */
  svixMessageId: string | null;
  endpointId: string | null;
  eventId: string;
  eventType: string;
  status: 'pending' | 'succeeded' | 'failed' | 'canceled';
  attemptCount: number;
  nextAttemptAt: Date | null;
  createdAt: Date;
  updatedAt: Date;
  attempts: DeliveryAttemptView[];
}

const DELIVERY_COLUMNS = (sql: Queryable) => sql`
  m.id, m.svix_message_id AS "svixMessageId", m.endpoint_id AS "endpointId", m.event_id AS "eventId", m.event_type AS "eventType", m.status,
  m.attempts AS "attemptCount", m.next_attempt_at AS "nextAttemptAt", m.created_at AS "createdAt",
  m.updated_at AS "updatedAt",
  COALESCE((SELECT json_agg(json_build_object(
      'attempt', a.attempt, 'status', a.status, 'responseStatus', a.response_status,
      'responseBody', a.response_body, 'latencyMs', a.latency_ms, 'error', a.error,
      'createdAt', a.created_at) ORDER BY a.attempt DESC, a.id DESC)
    FROM webhook_attempts a WHERE a.message_id = m.id), '[]'::json) AS attempts`;

/** One page of an endpoint's deliveries, newest first, each with its attempts (newest first). */
export async function listDeliveries(
  sql: Queryable,
  orgId: string,
  endpointId: string,
  page: { limit: number; offset: number },
): Promise<{ rows: DeliveryView[]; total: number }> {
  const [rows, [count]] = await Promise.all([
    sql<DeliveryView[]>`
      SELECT ${DELIVERY_COLUMNS(sql)} FROM webhook_messages m
      WHERE m.org_id = ${orgId} AND m.endpoint_id = ${endpointId}
      ORDER BY m.created_at DESC, m.id DESC LIMIT ${page.limit} OFFSET ${page.offset}`,
    sql<{ total: number }[]>`
      SELECT count(*)::int AS total FROM webhook_messages WHERE org_id = ${orgId} AND endpoint_id = ${endpointId}`,
  ]);
  return { rows: [...rows], total: count?.total ?? 0 };
}

export async function findDelivery(
  sql: Queryable,
  orgId: string,
  messageId: string,
): Promise<DeliveryView | undefined> {
  const [row] = await sql<DeliveryView[]>`
    SELECT ${DELIVERY_COLUMNS(sql)} FROM webhook_messages m WHERE m.org_id = ${orgId} AND m.id = ${messageId}`;
  return row;
}

/** Counts a manual retry of a message (its workflow id suffix); undefined = no such message here. */
export async function countManualRetry(
  sql: Queryable,
  orgId: string,
  messageId: string,
): Promise<number | undefined> {
  const [row] = await sql<{ n: number }[]>`
    UPDATE webhook_messages SET manual_retries = manual_retries + 1, updated_at = now()
    WHERE org_id = ${orgId} AND id = ${messageId}
    RETURNING manual_retries AS n`;
  return row?.n;
}

/** A `webhook.test` event and its one message to the endpoint, claimed for the caller's start. */
export async function insertTestMessage(
  sql: Sql,
  t: {
    orgId: string;
    endpointId: string;
    eventId: string;
    messageId: string;
    payload: Record<string, unknown>;
  },
): Promise<void> {
  await sql.begin(async (tx) => {
    await tx`
      INSERT INTO events (id, org_id, type, payload, dispatched_at)
      VALUES (${t.eventId}, ${t.orgId}, 'webhook.test', ${tx.json(t.payload as Record<string, never>)}, now())`;
    await tx`
      INSERT INTO webhook_messages (id, org_id, event_id, endpoint_id, event_type, workflow_claimed_at)
      VALUES (${t.messageId}, ${t.orgId}, ${t.eventId}, ${t.endpointId}, 'webhook.test', now())`;
  });
}
