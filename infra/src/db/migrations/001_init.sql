-- Promptmill schema v1: tenancy, keys, prompt registry, runs, usage, events, limit counters.
-- Forward-only: never edit a migration that has landed; add the next number instead.

CREATE TABLE organizations (
  id              text PRIMARY KEY,
  name            text NOT NULL,
  plan            text NOT NULL DEFAULT 'pro' CHECK (plan IN ('free', 'pro', 'team', 'enterprise')),
  billing_status  text NOT NULL DEFAULT 'active' CHECK (billing_status IN ('active', 'past_due', 'disputed', 'canceled')),
  token_budget    bigint CHECK (token_budget IS NULL OR token_budget >= 0),
  -- per-org overrides of the plan limits: { perMinute?, perDay? }
  limit_overrides jsonb NOT NULL DEFAULT '{}'::jsonb,
  -- models the org may run; NULL = every model
  allowed_models  text[],
  created_at      timestamptz NOT NULL DEFAULT now(),
  updated_at      timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE members (
  id           text PRIMARY KEY,
  org_id       text NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
  email        text NOT NULL,
  name         text,
  role         text NOT NULL DEFAULT 'member' CHECK (role IN ('owner', 'admin', 'member')),
  suspended_at timestamptz,
  removed_at   timestamptz,
  created_at   timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX members_org_email ON members (org_id, lower(email)) WHERE removed_at IS NULL;

CREATE TABLE api_keys (
  id                  text PRIMARY KEY,
  org_id              text NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
  owner_member_id     text NOT NULL REFERENCES members(id),
  name                text NOT NULL,
  key_hash            bytea NOT NULL UNIQUE,          -- sha256 of the plaintext; the plaintext is never stored
  summary             text NOT NULL,                  -- pm_live_abcd...wxyz
  previous_hash       bytea UNIQUE,                   -- the secret before the last rotation
  previous_expires_at timestamptz,                    -- end of its grace period
  scopes              text[] NOT NULL DEFAULT ARRAY['admin'],
  prompt_ids          text[],                         -- NULL = every prompt
  rate_limits         jsonb NOT NULL DEFAULT '{}'::jsonb, -- { perMinute?, perHour?, perDay? }
  allowed_origins     text[],                         -- NULL = any origin
  expires_at          timestamptz,
  revoked_at          timestamptz,
  last_used_at        timestamptz,
  usage_count         bigint NOT NULL DEFAULT 0,
  created_at          timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX api_keys_org ON api_keys (org_id, created_at);

CREATE TABLE prompts (
  id          text PRIMARY KEY,
  org_id      text NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
  name        text NOT NULL,
  description text NOT NULL DEFAULT '',
  tags        text[] NOT NULL DEFAULT '{}',
  latest_version integer NOT NULL DEFAULT 0,
  created_at  timestamptz NOT NULL DEFAULT now(),
  updated_at  timestamptz NOT NULL DEFAULT now(),
  deleted_at  timestamptz
);
CREATE UNIQUE INDEX prompts_org_name ON prompts (org_id, name) WHERE deleted_at IS NULL;

CREATE TABLE prompt_versions (
  id                text PRIMARY KEY,
  prompt_id         text NOT NULL REFERENCES prompts(id) ON DELETE CASCADE,
  version           integer NOT NULL,
  template          text,                              -- text prompts
  messages          jsonb,                             -- chat prompts: [{role, content}]
  model             text NOT NULL,
  params            jsonb NOT NULL DEFAULT '{}'::jsonb,
  fallback_models   text[] NOT NULL DEFAULT '{}',
  variables         jsonb NOT NULL DEFAULT '[]'::jsonb, -- [{name, required, default?, description?}]
  cache_ttl_seconds integer,
  commit_message    text,
  created_at        timestamptz NOT NULL DEFAULT now(),
  UNIQUE (prompt_id, version),
  CHECK ((template IS NULL) <> (messages IS NULL))
);

CREATE TABLE prompt_labels (
  prompt_id  text NOT NULL REFERENCES prompts(id) ON DELETE CASCADE,
  label      text NOT NULL,
  version_id text NOT NULL REFERENCES prompt_versions(id),
  updated_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (prompt_id, label)
);

CREATE TABLE runs (
  id              text PRIMARY KEY,
  org_id          text NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
  key_id          text REFERENCES api_keys(id) ON DELETE SET NULL,
  prompt_id       text NOT NULL REFERENCES prompts(id),
  version_id      text NOT NULL REFERENCES prompt_versions(id),
  prompt_version  integer NOT NULL,
  mode            text NOT NULL CHECK (mode IN ('sync', 'stream', 'async')),
  status          text NOT NULL CHECK (status IN ('queued', 'running', 'succeeded', 'failed', 'canceled')),
  variables       jsonb NOT NULL DEFAULT '{}'::jsonb,
  metadata        jsonb,
  webhook_url     text,
  model           text NOT NULL,
  output          text,
  error_code      text,
  error_message   text,
  prompt_tokens     integer NOT NULL DEFAULT 0,
  completion_tokens integer NOT NULL DEFAULT 0,
  cost            numeric(18, 9) NOT NULL DEFAULT 0,
  attempts        integer NOT NULL DEFAULT 0,
  cache_hit       boolean NOT NULL DEFAULT false,
  idempotency_key text,
  request_hash    text,
  created_at      timestamptz NOT NULL DEFAULT now(),
  started_at      timestamptz,
  finished_at     timestamptz
);
CREATE INDEX runs_org_created ON runs (org_id, created_at DESC);
CREATE INDEX runs_org_status ON runs (org_id, status, created_at DESC);
CREATE UNIQUE INDEX runs_idempotency ON runs (org_id, idempotency_key) WHERE idempotency_key IS NOT NULL;

-- One row per provider attempt (kind 'attempt') and one per finished run (kind 'run').
-- The unique key makes activity retries and worker restarts record each fact exactly once.
CREATE TABLE usage_events (
  id                bigserial PRIMARY KEY,
  org_id            text NOT NULL,
  key_id            text,
  run_id            text NOT NULL,
  kind              text NOT NULL CHECK (kind IN ('attempt', 'run')),
  seq               integer NOT NULL DEFAULT 0,
  prompt_id         text,
  prompt_version    integer,
  model             text NOT NULL,
  provider          text,
  status            text NOT NULL,
  error_code        text,
  prompt_tokens     integer NOT NULL DEFAULT 0,
  completion_tokens integer NOT NULL DEFAULT 0,
  cost              numeric(18, 9) NOT NULL DEFAULT 0,
  latency_ms        integer NOT NULL DEFAULT 0,
  cache_hit         boolean NOT NULL DEFAULT false,
  created_at        timestamptz NOT NULL DEFAULT now(),
  UNIQUE (run_id, kind, seq)
);
CREATE INDEX usage_events_org_time ON usage_events (org_id, created_at) WHERE kind = 'run';
CREATE INDEX usage_events_key_time ON usage_events (key_id, created_at) WHERE kind = 'run';

-- Month-to-date token and cost totals per organization, for budgets (402 INSUFFICIENT_TOKENS).
CREATE TABLE org_usage_monthly (
  org_id  text NOT NULL,
  month   date NOT NULL,
  tokens  bigint NOT NULL DEFAULT 0,
  cost    numeric(18, 9) NOT NULL DEFAULT 0,
  runs    bigint NOT NULL DEFAULT 0,
  PRIMARY KEY (org_id, month)
);

-- Domain events (outbox) that the webhook issue delivers: team.member_added, prompt.executed, …
CREATE TABLE events (
  id         text PRIMARY KEY,
  org_id     text NOT NULL,
  type       text NOT NULL,
  payload    jsonb NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX events_org_time ON events (org_id, created_at);

-- Shared rate-limit counters: one row per (bucket, window slot), so limits hold across api processes.
CREATE TABLE rate_limit_counters (
  bucket      text NOT NULL,
  slot_start  timestamptz NOT NULL,
  count       integer NOT NULL DEFAULT 0,
  expires_at  timestamptz NOT NULL,
  PRIMARY KEY (bucket, slot_start)
);
CREATE INDEX rate_limit_counters_expiry ON rate_limit_counters (expires_at);

-- Identical-request cache for versions with cacheTtlSeconds.
CREATE TABLE run_cache (
  cache_key  text PRIMARY KEY,
  org_id     text NOT NULL,
  run_id     text NOT NULL,
  output     text NOT NULL,
  model      text NOT NULL,
  prompt_tokens     integer NOT NULL,
  completion_tokens integer NOT NULL,
  expires_at timestamptz NOT NULL
);
