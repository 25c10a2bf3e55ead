-- Signed webhooks: endpoints (whk_), the org's default secret (per-run webhookUrl), the outbox's
-- dispatch marker, one message per (event, target) (msg_ = the webhook-id, stable across retries)
-- and one delivery-log row per attempt.

CREATE TABLE webhook_endpoints (
  id                         text PRIMARY KEY,
  org_id                     text NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
  url                        text NOT NULL,
  description                text NOT NULL DEFAULT '',
  events                     text[] NOT NULL,
  enabled                    boolean NOT NULL DEFAULT true,
  -- why it is disabled when the system disabled it ('failing'); NULL when a user did
  disabled_reason            text,
  -- signing keys must be usable, so they are stored as is (like a provider key); never listed
  secret                     text NOT NULL,
  previous_secret            text,
  previous_secret_expires_at timestamptz,
  -- the first failed attempt since the last success: 5 days of failures disable the endpoint
  failing_since              timestamptz,
  created_at                 timestamptz NOT NULL DEFAULT now(),
  updated_at                 timestamptz NOT NULL DEFAULT now(),
  deleted_at                 timestamptz
);
CREATE INDEX webhook_endpoints_org ON webhook_endpoints (org_id, created_at) WHERE deleted_at IS NULL;

-- Signs the one-off deliveries of runs that name a webhookUrl.
CREATE TABLE webhook_org_secrets (
  org_id     text PRIMARY KEY REFERENCES organizations(id) ON DELETE CASCADE,
  secret     text NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now()
);

-- The outbox's dispatch marker: NULL = not yet fanned out into messages. Events written before
-- this migration predate webhooks and are not sent.
ALTER TABLE events ADD COLUMN dispatched_at timestamptz;
UPDATE events SET dispatched_at = created_at;
CREATE INDEX events_undispatched ON events (created_at) WHERE dispatched_at IS NULL;

CREATE TABLE webhook_messages (
  id                  text PRIMARY KEY,
  org_id              text NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
  event_id            text NOT NULL REFERENCES events(id) ON DELETE CASCADE,
  -- NULL for a run's own webhookUrl (then `url` is the target and the org's default secret signs)
  endpoint_id         text REFERENCES webhook_endpoints(id) ON DELETE CASCADE,
  url                 text,
  event_type          text NOT NULL,
  status              text NOT NULL DEFAULT 'pending'
                        CHECK (status IN ('pending', 'succeeded', 'failed', 'canceled')),
  attempts            integer NOT NULL DEFAULT 0,
  next_attempt_at     timestamptz,
  -- when a workflow start was claimed; a pending message unclaimed (or claimed long ago without an
  -- attempt) is started again: the workflow id is the message id, so a second start is refused
  workflow_claimed_at timestamptz,
  manual_retries      integer NOT NULL DEFAULT 0,
  -- Svix mode (SVIX_TOKEN): the Svix message this one was handed over as; its attempts are Svix's
  svix_message_id     text,
  created_at          timestamptz NOT NULL DEFAULT now(),
  updated_at          timestamptz NOT NULL DEFAULT now(),
  CHECK ((endpoint_id IS NULL) <> (url IS NULL))
);
CREATE UNIQUE INDEX webhook_messages_event_endpoint ON webhook_messages (event_id, endpoint_id)
  WHERE endpoint_id IS NOT NULL;
CREATE UNIQUE INDEX webhook_messages_event_url ON webhook_messages (event_id) WHERE endpoint_id IS NULL;
CREATE INDEX webhook_messages_endpoint ON webhook_messages (endpoint_id, created_at DESC, id DESC);
CREATE INDEX webhook_messages_unclaimed ON webhook_messages (created_at)
  WHERE status = 'pending' AND attempts = 0;

CREATE TABLE webhook_attempts (
  id              bigserial PRIMARY KEY,
  message_id      text NOT NULL REFERENCES webhook_messages(id) ON DELETE CASCADE,
  attempt         integer NOT NULL,
  status          text NOT NULL CHECK (status IN ('succeeded', 'failed')),
  response_status integer,
  response_body   text,
  latency_ms      integer NOT NULL,
  error           text,
  created_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX webhook_attempts_message ON webhook_attempts (message_id, attempt);

-- A committed event wakes the dispatchers at once (they also poll, for a NOTIFY missed while not
-- listening). Statement-level: a transaction that writes several events sends one NOTIFY.
CREATE OR REPLACE FUNCTION pm_notify_event() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_notify('pm_event', '');
  RETURN NULL;
END;
$$;

DROP TRIGGER IF EXISTS events_notify ON events;
CREATE TRIGGER events_notify AFTER INSERT ON events FOR EACH STATEMENT EXECUTE FUNCTION pm_notify_event();
