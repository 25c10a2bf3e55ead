-- Multi-step chains (API `/v1/workflows`): definitions with immutable revisions, chain runs, and the
-- per-step state of each chain run. Each step is also an ordinary run (runs.chain_run_id), so its
-- usage, budget reservation, events and metrics follow the single-run path unchanged.
-- Forward-only: never edit a migration that has landed; add the next number instead.

CREATE TABLE IF NOT EXISTS chains (
  id          text PRIMARY KEY,
  org_id      text NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
  name        text NOT NULL,
  description text NOT NULL DEFAULT '',
  revision    integer NOT NULL DEFAULT 1,
  created_at  timestamptz NOT NULL DEFAULT now(),
  updated_at  timestamptz NOT NULL DEFAULT now(),
  deleted_at  timestamptz
);
CREATE UNIQUE INDEX IF NOT EXISTS chains_org_name ON chains (org_id, name) WHERE deleted_at IS NULL;
CREATE INDEX IF NOT EXISTS chains_org_created ON chains (org_id, created_at DESC) WHERE deleted_at IS NULL;

-- Every PUT adds a revision; a revision never changes (runs pin the one they started with).
CREATE TABLE IF NOT EXISTS chain_revisions (
  chain_id    text NOT NULL REFERENCES chains(id) ON DELETE CASCADE,
  revision    integer NOT NULL,
  description text NOT NULL DEFAULT '',
  definition  jsonb NOT NULL,
  created_at  timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (chain_id, revision)
);

CREATE TABLE IF NOT EXISTS chain_runs (
  id              text PRIMARY KEY,
  org_id          text NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
  chain_id        text NOT NULL REFERENCES chains(id),
  revision        integer NOT NULL,
  key_id          text REFERENCES api_keys(id) ON DELETE SET NULL,
  status          text NOT NULL CHECK (status IN ('queued', 'running', 'succeeded', 'failed', 'canceled')),
  input           jsonb NOT NULL DEFAULT '{}'::jsonb,
  metadata        jsonb,
  webhook_url     text,
  -- the prompt versions the run resolved when it started, per step: [{stepId, promptId, versionId, …}]
  pinned          jsonb NOT NULL,
  output          text,
  error_code      text,
  error_message   text,
  prompt_tokens     integer NOT NULL DEFAULT 0,
  completion_tokens integer NOT NULL DEFAULT 0,
  cost            numeric(18, 9) NOT NULL DEFAULT 0,
  attempts        integer NOT NULL DEFAULT 0,
  idempotency_key text,
  request_hash    text,
  created_at      timestamptz NOT NULL DEFAULT now(),
  started_at      timestamptz,
  finished_at     timestamptz
);
CREATE INDEX IF NOT EXISTS chain_runs_org_created ON chain_runs (org_id, created_at DESC);
CREATE INDEX IF NOT EXISTS chain_runs_chain_created ON chain_runs (chain_id, created_at DESC);
CREATE UNIQUE INDEX IF NOT EXISTS chain_runs_idempotency ON chain_runs (org_id, idempotency_key)
  WHERE idempotency_key IS NOT NULL;

CREATE TABLE IF NOT EXISTS chain_run_steps (
  chain_run_id    text NOT NULL REFERENCES chain_runs(id) ON DELETE CASCADE,
  step_id         text NOT NULL,
  position        integer NOT NULL,
  run_id          text,
  status          text NOT NULL
    CHECK (status IN ('pending', 'running', 'succeeded', 'failed', 'canceled', 'skipped')),
  output          text,
  error_code      text,
  error_message   text,
  prompt_tokens     integer NOT NULL DEFAULT 0,
  completion_tokens integer NOT NULL DEFAULT 0,
  cost            numeric(18, 9) NOT NULL DEFAULT 0,
  attempts        integer NOT NULL DEFAULT 0,
  started_at      timestamptz,
  finished_at     timestamptz,
  PRIMARY KEY (chain_run_id, step_id)
);

ALTER TABLE runs ADD COLUMN IF NOT EXISTS chain_run_id text;
CREATE INDEX IF NOT EXISTS runs_chain_run ON runs (chain_run_id) WHERE chain_run_id IS NOT NULL;
