-- Monthly token budgets that hold under concurrency, and one usage row per provider call.
-- Forward-only: never edit a migration that has landed; add the next number instead.

-- Budget reservations. A run reserves an estimate of its tokens before it starts (in the
-- transaction that inserts its row); its completion releases the reservation and adds the tokens it
-- really used, in the completion's transaction. org_usage_monthly.reserved_tokens is the sum of the
-- month's reservations, kept in the same statements as budget_reservations, so admission is one
-- conditional upsert of the org's month row: admitted while tokens + reserved_tokens < budget.
-- `month` is the month the reservation was made in: the month row it is released from.
ALTER TABLE org_usage_monthly ADD COLUMN IF NOT EXISTS reserved_tokens bigint NOT NULL DEFAULT 0;

CREATE TABLE IF NOT EXISTS budget_reservations (
  run_id     text PRIMARY KEY,
  org_id     text NOT NULL,
  month      date NOT NULL,
  tokens     bigint NOT NULL CHECK (tokens >= 0),
  created_at timestamptz NOT NULL DEFAULT now()
);

-- Attempts: one usage_events row per provider call, however often the activity runs. Each
-- execution of the model-call activity draws a random attempt_id and opens its row (status
-- 'started', prompt tokens estimated) before it calls the provider, then closes it with the
-- provider's usage. A worker that dies mid-call leaves its row open: the run's completion counts it
-- as 'interrupted'. A re-executed call is a new execution, so a new row: it is billed again by the
-- provider and counted again here. seq (model index × 1000 + Temporal attempt) stays for ordering;
-- re-executions share it. A retried write of the same execution changes nothing (the unique index).
ALTER TABLE usage_events ADD COLUMN IF NOT EXISTS attempt_id uuid;
CREATE UNIQUE INDEX IF NOT EXISTS usage_events_attempt ON usage_events (run_id, attempt_id);
-- One 'run' row per run (its completion): `ON CONFLICT (run_id) WHERE kind = 'run'`. (A run's rows
-- are found by run id through usage_events_attempt, whose first column it is.)
CREATE UNIQUE INDEX IF NOT EXISTS usage_events_run_once ON usage_events (run_id) WHERE kind = 'run';
ALTER TABLE usage_events DROP CONSTRAINT IF EXISTS usage_events_run_id_kind_seq_key;
