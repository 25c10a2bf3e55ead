-- Usage analytics (GET /v1/usage, /v1/keys/:id/analytics, /v1/billing) and alert rules (/v1/alerts).
-- Forward-only: never edit a migration that has landed; add the next number instead.

-- One row per organization, UTC hour, key, prompt and model: the ended runs of that hour, summed
-- (and two coarser tables below, kept by the same triggers).
-- Maintained by triggers in the transaction that records a run's end (below), so it is exact and
-- never behind: a 30-day query reads at most 720 rows per (key, prompt, model) instead of every run.
-- key_id / prompt_id are '' when the run had none (a primary key column cannot be NULL).
--
-- Latency: the sum and count give an exact average. Percentiles come from a fixed-bucket histogram
-- (lat_00 … lat_19: how many runs fell in each bucket), which sums across rows and hours; a p95
-- read from it is the upper edge of the bucket holding the 95th percentile (capped by latency_max),
-- so it is never below the true value and at most one bucket above it. The bucket edges (ms) are
-- pm_latency_edges() and must stay in step with api/src/usage/latency-histogram.ts.
CREATE TABLE IF NOT EXISTS usage_hourly (
  org_id            text NOT NULL,
  hour              timestamptz NOT NULL,
  key_id            text NOT NULL DEFAULT '',
  prompt_id         text NOT NULL DEFAULT '',
  model             text NOT NULL,
  requests          integer NOT NULL DEFAULT 0,
  errors            integer NOT NULL DEFAULT 0,
  canceled          integer NOT NULL DEFAULT 0,
  cache_hits        integer NOT NULL DEFAULT 0,
  prompt_tokens     bigint NOT NULL DEFAULT 0,
  completion_tokens bigint NOT NULL DEFAULT 0,
  cost              numeric(20, 9) NOT NULL DEFAULT 0,
  latency_ms_sum    bigint NOT NULL DEFAULT 0,
  latency_max       integer NOT NULL DEFAULT 0,
  lat_00 integer NOT NULL DEFAULT 0, lat_01 integer NOT NULL DEFAULT 0, lat_02 integer NOT NULL DEFAULT 0,
  lat_03 integer NOT NULL DEFAULT 0, lat_04 integer NOT NULL DEFAULT 0, lat_05 integer NOT NULL DEFAULT 0,
  lat_06 integer NOT NULL DEFAULT 0, lat_07 integer NOT NULL DEFAULT 0, lat_08 integer NOT NULL DEFAULT 0,
  lat_09 integer NOT NULL DEFAULT 0, lat_10 integer NOT NULL DEFAULT 0, lat_11 integer NOT NULL DEFAULT 0,
  lat_12 integer NOT NULL DEFAULT 0, lat_13 integer NOT NULL DEFAULT 0, lat_14 integer NOT NULL DEFAULT 0,
  lat_15 integer NOT NULL DEFAULT 0, lat_16 integer NOT NULL DEFAULT 0, lat_17 integer NOT NULL DEFAULT 0,
  lat_18 integer NOT NULL DEFAULT 0, lat_19 integer NOT NULL DEFAULT 0,
  PRIMARY KEY (org_id, hour, key_id, prompt_id, model)
);
-- per-key analytics read one key's hours without scanning the organization's other keys
CREATE INDEX IF NOT EXISTS usage_hourly_key ON usage_hourly (org_id, key_id, hour);

-- The same sums per UTC day (day granularity: 24 times fewer rows to read) …
CREATE TABLE IF NOT EXISTS usage_daily (
  org_id            text NOT NULL,
  day               date NOT NULL,
  key_id            text NOT NULL DEFAULT '',
  prompt_id         text NOT NULL DEFAULT '',
  model             text NOT NULL,
  requests          integer NOT NULL DEFAULT 0,
  errors            integer NOT NULL DEFAULT 0,
  canceled          integer NOT NULL DEFAULT 0,
  cache_hits        integer NOT NULL DEFAULT 0,
  prompt_tokens     bigint NOT NULL DEFAULT 0,
  completion_tokens bigint NOT NULL DEFAULT 0,
  cost              numeric(20, 9) NOT NULL DEFAULT 0,
  latency_ms_sum    bigint NOT NULL DEFAULT 0,
  latency_max       integer NOT NULL DEFAULT 0,
  lat_00 integer NOT NULL DEFAULT 0, lat_01 integer NOT NULL DEFAULT 0, lat_02 integer NOT NULL DEFAULT 0,
  lat_03 integer NOT NULL DEFAULT 0, lat_04 integer NOT NULL DEFAULT 0, lat_05 integer NOT NULL DEFAULT 0,
  lat_06 integer NOT NULL DEFAULT 0, lat_07 integer NOT NULL DEFAULT 0, lat_08 integer NOT NULL DEFAULT 0,
  lat_09 integer NOT NULL DEFAULT 0, lat_10 integer NOT NULL DEFAULT 0, lat_11 integer NOT NULL DEFAULT 0,
  lat_12 integer NOT NULL DEFAULT 0, lat_13 integer NOT NULL DEFAULT 0, lat_14 integer NOT NULL DEFAULT 0,
  lat_15 integer NOT NULL DEFAULT 0, lat_16 integer NOT NULL DEFAULT 0, lat_17 integer NOT NULL DEFAULT 0,
  lat_18 integer NOT NULL DEFAULT 0, lat_19 integer NOT NULL DEFAULT 0,
  PRIMARY KEY (org_id, day, key_id, prompt_id, model)
);
CREATE INDEX IF NOT EXISTS usage_daily_key ON usage_daily (org_id, key_id, day);

-- … and per hour along one dimension at a time: dim 'org' (value '': the whole organization), 'key',
-- 'prompt' or 'model' (value: its id or name). Hour granularity reads these: one row per hour and
-- group instead of one per (key, prompt, model). The 'org' row is shared by every run of the
-- organization that hour; it is written at commit (below), after org_usage_monthly, which is shared
-- by every run of the month, so it adds no new point where one organization's run ends queue.
CREATE TABLE IF NOT EXISTS usage_hourly_by (
  org_id            text NOT NULL,
  dim               text NOT NULL CHECK (dim IN ('org', 'key', 'prompt', 'model')),
  value             text NOT NULL,
  hour              timestamptz NOT NULL,
  requests          integer NOT NULL DEFAULT 0,
  errors            integer NOT NULL DEFAULT 0,
  canceled          integer NOT NULL DEFAULT 0,
  cache_hits        integer NOT NULL DEFAULT 0,
  prompt_tokens     bigint NOT NULL DEFAULT 0,
  completion_tokens bigint NOT NULL DEFAULT 0,
  cost              numeric(20, 9) NOT NULL DEFAULT 0,
  latency_ms_sum    bigint NOT NULL DEFAULT 0,
  latency_max       integer NOT NULL DEFAULT 0,
  lat_00 integer NOT NULL DEFAULT 0, lat_01 integer NOT NULL DEFAULT 0, lat_02 integer NOT NULL DEFAULT 0,
  lat_03 integer NOT NULL DEFAULT 0, lat_04 integer NOT NULL DEFAULT 0, lat_05 integer NOT NULL DEFAULT 0,
  lat_06 integer NOT NULL DEFAULT 0, lat_07 integer NOT NULL DEFAULT 0, lat_08 integer NOT NULL DEFAULT 0,
  lat_09 integer NOT NULL DEFAULT 0, lat_10 integer NOT NULL DEFAULT 0, lat_11 integer NOT NULL DEFAULT 0,
  lat_12 integer NOT NULL DEFAULT 0, lat_13 integer NOT NULL DEFAULT 0, lat_14 integer NOT NULL DEFAULT 0,
  lat_15 integer NOT NULL DEFAULT 0, lat_16 integer NOT NULL DEFAULT 0, lat_17 integer NOT NULL DEFAULT 0,
  lat_18 integer NOT NULL DEFAULT 0, lat_19 integer NOT NULL DEFAULT 0,
  PRIMARY KEY (org_id, dim, hour, value)
);

-- Lower edges (ms) of latency buckets 1..19; bucket 0 is [0, 10), bucket 19 is [120000, ∞).
CREATE OR REPLACE FUNCTION pm_latency_edges() RETURNS integer[] LANGUAGE sql IMMUTABLE AS $$
  SELECT ARRAY[10, 25, 50, 100, 200, 300, 500, 750, 1000, 1500, 2000, 3000, 5000, 7500, 10000,
               20000, 30000, 60000, 120000]
$$;

-- Adds one ended run to its rows: its hour's (org, key, prompt, model), its day's, and its hour's
-- per organization, key, prompt and model (usage_hourly_by, in that order in every transaction).
-- Upserts: concurrent ends of runs sharing a row queue on that row's lock only until the first commits.
CREATE OR REPLACE FUNCTION pm_usage_rollup_add(
  p_org text, p_at timestamptz, p_key text, p_prompt text, p_model text, p_status text,
  p_cache_hit boolean, p_prompt_tokens bigint, p_completion_tokens bigint, p_cost numeric, p_latency integer
) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
  v_lat integer := GREATEST(p_latency, 0);
  b integer := width_bucket(GREATEST(p_latency, 0), pm_latency_edges());
  v_err integer := (p_status = 'failed')::int;
  v_can integer := (p_status = 'canceled')::int;
  v_hit integer := p_cache_hit::int;
  v_hour timestamptz := date_trunc('hour', p_at, 'UTC');
BEGIN
  INSERT INTO usage_hourly AS u (org_id, hour, key_id, prompt_id, model, requests, errors, canceled, cache_hits,
    prompt_tokens, completion_tokens, cost, latency_ms_sum, latency_max, lat_00, lat_01, lat_02, lat_03, lat_04, lat_05, lat_06, lat_07, lat_08, lat_09, lat_10, lat_11, lat_12, lat_13, lat_14, lat_15, lat_16, lat_17, lat_18, lat_19)
  VALUES (p_org, v_hour, COALESCE(p_key, ''), COALESCE(p_prompt, ''), p_model, 1, v_err, v_can, v_hit, p_prompt_tokens, p_completion_tokens, p_cost, v_lat, v_lat, (b = 0)::int, (b = 1)::int, (b = 2)::int, (b = 3)::int, (b = 4)::int, (b = 5)::int, (b = 6)::int, (b = 7)::int, (b = 8)::int, (b = 9)::int, (b = 10)::int, (b = 11)::int, (b = 12)::int, (b = 13)::int, (b = 14)::int, (b = 15)::int, (b = 16)::int, (b = 17)::int, (b = 18)::int, (b = 19)::int)
  ON CONFLICT (org_id, hour, key_id, prompt_id, model) DO UPDATE SET
    requests = u.requests + 1, errors = u.errors + EXCLUDED.errors, canceled = u.canceled + EXCLUDED.canceled,
    cache_hits = u.cache_hits + EXCLUDED.cache_hits, prompt_tokens = u.prompt_tokens + EXCLUDED.prompt_tokens,
    completion_tokens = u.completion_tokens + EXCLUDED.completion_tokens, cost = u.cost + EXCLUDED.cost,
    latency_ms_sum = u.latency_ms_sum + EXCLUDED.latency_ms_sum,
    latency_max = GREATEST(u.latency_max, EXCLUDED.latency_max),
    lat_00 = u.lat_00 + EXCLUDED.lat_00, lat_01 = u.lat_01 + EXCLUDED.lat_01, lat_02 = u.lat_02 + EXCLUDED.lat_02,
    lat_03 = u.lat_03 + EXCLUDED.lat_03, lat_04 = u.lat_04 + EXCLUDED.lat_04, lat_05 = u.lat_05 + EXCLUDED.lat_05,
    lat_06 = u.lat_06 + EXCLUDED.lat_06, lat_07 = u.lat_07 + EXCLUDED.lat_07, lat_08 = u.lat_08 + EXCLUDED.lat_08,
    lat_09 = u.lat_09 + EXCLUDED.lat_09, lat_10 = u.lat_10 + EXCLUDED.lat_10, lat_11 = u.lat_11 + EXCLUDED.lat_11,
    lat_12 = u.lat_12 + EXCLUDED.lat_12, lat_13 = u.lat_13 + EXCLUDED.lat_13, lat_14 = u.lat_14 + EXCLUDED.lat_14,
    lat_15 = u.lat_15 + EXCLUDED.lat_15, lat_16 = u.lat_16 + EXCLUDED.lat_16, lat_17 = u.lat_17 + EXCLUDED.lat_17,
    lat_18 = u.lat_18 + EXCLUDED.lat_18, lat_19 = u.lat_19 + EXCLUDED.lat_19;

  INSERT INTO usage_daily AS u (org_id, day, key_id, prompt_id, model, requests, errors, canceled, cache_hits,
    prompt_tokens, completion_tokens, cost, latency_ms_sum, latency_max, lat_00, lat_01, lat_02, lat_03, lat_04, lat_05, lat_06, lat_07, lat_08, lat_09, lat_10, lat_11, lat_12, lat_13, lat_14, lat_15, lat_16, lat_17, lat_18, lat_19)
  VALUES (p_org, (p_at AT TIME ZONE 'UTC')::date, COALESCE(p_key, ''), COALESCE(p_prompt, ''), p_model, 1, v_err, v_can, v_hit, p_prompt_tokens, p_completion_tokens, p_cost, v_lat, v_lat, (b = 0)::int, (b = 1)::int, (b = 2)::int, (b = 3)::int, (b = 4)::int, (b = 5)::int, (b = 6)::int, (b = 7)::int, (b = 8)::int, (b = 9)::int, (b = 10)::int, (b = 11)::int, (b = 12)::int, (b = 13)::int, (b = 14)::int, (b = 15)::int, (b = 16)::int, (b = 17)::int, (b = 18)::int, (b = 19)::int)
  ON CONFLICT (org_id, day, key_id, prompt_id, model) DO UPDATE SET
    requests = u.requests + 1, errors = u.errors + EXCLUDED.errors, canceled = u.canceled + EXCLUDED.canceled,
    cache_hits = u.cache_hits + EXCLUDED.cache_hits, prompt_tokens = u.prompt_tokens + EXCLUDED.prompt_tokens,
    completion_tokens = u.completion_tokens + EXCLUDED.completion_tokens, cost = u.cost + EXCLUDED.cost,
    latency_ms_sum = u.latency_ms_sum + EXCLUDED.latency_ms_sum,
    latency_max = GREATEST(u.latency_max, EXCLUDED.latency_max),
    lat_00 = u.lat_00 + EXCLUDED.lat_00, lat_01 = u.lat_01 + EXCLUDED.lat_01, lat_02 = u.lat_02 + EXCLUDED.lat_02,
    lat_03 = u.lat_03 + EXCLUDED.lat_03, lat_04 = u.lat_04 + EXCLUDED.lat_04, lat_05 = u.lat_05 + EXCLUDED.lat_05,
    lat_06 = u.lat_06 + EXCLUDED.lat_06, lat_07 = u.lat_07 + EXCLUDED.lat_07, lat_08 = u.lat_08 + EXCLUDED.lat_08,
    lat_09 = u.lat_09 + EXCLUDED.lat_09, lat_10 = u.lat_10 + EXCLUDED.lat_10, lat_11 = u.lat_11 + EXCLUDED.lat_11,
    lat_12 = u.lat_12 + EXCLUDED.lat_12, lat_13 = u.lat_13 + EXCLUDED.lat_13, lat_14 = u.lat_14 + EXCLUDED.lat_14,
    lat_15 = u.lat_15 + EXCLUDED.lat_15, lat_16 = u.lat_16 + EXCLUDED.lat_16, lat_17 = u.lat_17 + EXCLUDED.lat_17,
    lat_18 = u.lat_18 + EXCLUDED.lat_18, lat_19 = u.lat_19 + EXCLUDED.lat_19;

  INSERT INTO usage_hourly_by AS u (org_id, dim, value, hour, requests, errors, canceled, cache_hits,
    prompt_tokens, completion_tokens, cost, latency_ms_sum, latency_max, lat_00, lat_01, lat_02, lat_03, lat_04, lat_05, lat_06, lat_07, lat_08, lat_09, lat_10, lat_11, lat_12, lat_13, lat_14, lat_15, lat_16, lat_17, lat_18, lat_19)
  SELECT p_org, d.dim, d.value, v_hour, 1, v_err, v_can, v_hit, p_prompt_tokens, p_completion_tokens, p_cost, v_lat, v_lat, (b = 0)::int, (b = 1)::int, (b = 2)::int, (b = 3)::int, (b = 4)::int, (b = 5)::int, (b = 6)::int, (b = 7)::int, (b = 8)::int, (b = 9)::int, (b = 10)::int, (b = 11)::int, (b = 12)::int, (b = 13)::int, (b = 14)::int, (b = 15)::int, (b = 16)::int, (b = 17)::int, (b = 18)::int, (b = 19)::int
  FROM (VALUES ('org', ''), ('key', COALESCE(p_key, '')), ('prompt', COALESCE(p_prompt, '')), ('model', p_model)) AS d(dim, value)
  ON CONFLICT (org_id, dim, hour, value) DO UPDATE SET
    requests = u.requests + 1, errors = u.errors + EXCLUDED.errors, canceled = u.canceled + EXCLUDED.canceled,
    cache_hits = u.cache_hits + EXCLUDED.cache_hits, prompt_tokens = u.prompt_tokens + EXCLUDED.prompt_tokens,
    completion_tokens = u.completion_tokens + EXCLUDED.completion_tokens, cost = u.cost + EXCLUDED.cost,
    latency_ms_sum = u.latency_ms_sum + EXCLUDED.latency_ms_sum,
    latency_max = GREATEST(u.latency_max, EXCLUDED.latency_max),
    lat_00 = u.lat_00 + EXCLUDED.lat_00, lat_01 = u.lat_01 + EXCLUDED.lat_01, lat_02 = u.lat_02 + EXCLUDED.lat_02,
    lat_03 = u.lat_03 + EXCLUDED.lat_03, lat_04 = u.lat_04 + EXCLUDED.lat_04, lat_05 = u.lat_05 + EXCLUDED.lat_05,
    lat_06 = u.lat_06 + EXCLUDED.lat_06, lat_07 = u.lat_07 + EXCLUDED.lat_07, lat_08 = u.lat_08 + EXCLUDED.lat_08,
    lat_09 = u.lat_09 + EXCLUDED.lat_09, lat_10 = u.lat_10 + EXCLUDED.lat_10, lat_11 = u.lat_11 + EXCLUDED.lat_11,
    lat_12 = u.lat_12 + EXCLUDED.lat_12, lat_13 = u.lat_13 + EXCLUDED.lat_13, lat_14 = u.lat_14 + EXCLUDED.lat_14,
    lat_15 = u.lat_15 + EXCLUDED.lat_15, lat_16 = u.lat_16 + EXCLUDED.lat_16, lat_17 = u.lat_17 + EXCLUDED.lat_17,
    lat_18 = u.lat_18 + EXCLUDED.lat_18, lat_19 = u.lat_19 + EXCLUDED.lat_19;
END;
$$;

-- A run's end is its 'run' usage event (one per run: completions, cache hits, cancels before
-- dispatch, chain steps — whatever records a run writes one). Bucketed at the event's time, which is
-- when the run ended (the same now() that org_usage_monthly counts the run in).
--
-- Deferred to COMMIT: the hour row is locked last in every transaction that ends a run (after
-- org_usage_monthly, which completeRun locks in its statement and a cache hit in a later one), so
-- two such transactions never lock the two rows in opposite orders (no deadlock), and the hour row
-- is held only for the commit itself.
CREATE OR REPLACE FUNCTION pm_usage_rollup_run_event() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pm_usage_rollup_add(NEW.org_id, NEW.created_at, NEW.key_id, NEW.prompt_id, NEW.model, NEW.status,
    NEW.cache_hit, NEW.prompt_tokens, NEW.completion_tokens, NEW.cost, NEW.latency_ms);
  RETURN NULL;
END;
$$;

DROP TRIGGER IF EXISTS usage_events_rollup ON usage_events;
CREATE CONSTRAINT TRIGGER usage_events_rollup
  AFTER INSERT ON usage_events
  DEFERRABLE INITIALLY DEFERRED
  FOR EACH ROW WHEN (NEW.kind = 'run')
  EXECUTE FUNCTION pm_usage_rollup_run_event();

-- A run that failed before its workflow ever started (Temporal refused or lost the start:
-- failUnstartedRun, the dispatcher giving up) writes no usage event, but it is a failed request:
-- it counts as one error with no tokens, at its end. Every other end sets started_at (completeRun)
-- or writes a usage event (a cancel before dispatch ends as 'canceled', not 'failed').
CREATE OR REPLACE FUNCTION pm_usage_rollup_unstarted_run() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pm_usage_rollup_add(NEW.org_id, COALESCE(NEW.finished_at, now()), NEW.key_id, NEW.prompt_id, NEW.model,
    'failed', false, 0, 0, 0, GREATEST(0, (extract(epoch FROM COALESCE(NEW.finished_at, now()) - NEW.created_at) * 1000)::int));
  RETURN NULL;
END;
$$;

DROP TRIGGER IF EXISTS runs_unstarted_rollup ON runs;
CREATE CONSTRAINT TRIGGER runs_unstarted_rollup
  AFTER UPDATE OF status ON runs
  DEFERRABLE INITIALLY DEFERRED
  FOR EACH ROW WHEN (OLD.status = 'queued' AND NEW.status = 'failed' AND NEW.started_at IS NULL)
  EXECUTE FUNCTION pm_usage_rollup_unstarted_run();

-- Rolls up ended runs of [p_from, p_to) that no trigger counted: the runs recorded before this
-- migration, or rows bulk-loaded with the trigger disabled (bench/usage.bench.ts). Adds to whatever
-- the rows hold, so call it once per range. Returns the number of usage_hourly rows written.
CREATE OR REPLACE FUNCTION pm_usage_rollup_backfill(p_from timestamptz, p_to timestamptz)
RETURNS bigint LANGUAGE sql AS $$
  WITH ended AS (
    SELECT org_id, created_at AS at, key_id, prompt_id, model, status, cache_hit, prompt_tokens,
           completion_tokens, cost, GREATEST(latency_ms, 0) AS latency
    FROM usage_events WHERE kind = 'run' AND created_at >= p_from AND created_at < p_to
    UNION ALL
    SELECT r.org_id, r.finished_at, r.key_id, r.prompt_id, r.model, 'failed', false, 0, 0, 0,
           GREATEST(0, (extract(epoch FROM r.finished_at - r.created_at) * 1000)::int)
    FROM runs r
    WHERE r.status = 'failed' AND r.started_at IS NULL AND r.finished_at >= p_from AND r.finished_at < p_to
      AND NOT EXISTS (SELECT 1 FROM usage_events e WHERE e.run_id = r.id AND e.kind = 'run')
  ), bucketed AS (
    SELECT e.*, width_bucket(e.latency, pm_latency_edges()) AS b FROM ended e
  ),
  hourly AS (
    INSERT INTO usage_hourly AS u (org_id, hour, key_id, prompt_id, model, requests, errors, canceled, cache_hits,
      prompt_tokens, completion_tokens, cost, latency_ms_sum, latency_max, lat_00, lat_01, lat_02, lat_03, lat_04, lat_05, lat_06, lat_07, lat_08, lat_09, lat_10, lat_11, lat_12, lat_13, lat_14, lat_15, lat_16, lat_17, lat_18, lat_19)
    SELECT org_id, date_trunc('hour', at, 'UTC'), COALESCE(key_id, ''), COALESCE(prompt_id, ''), model,
      count(*), count(*) FILTER (WHERE status = 'failed'), count(*) FILTER (WHERE status = 'canceled'),
      count(*) FILTER (WHERE cache_hit), sum(prompt_tokens), sum(completion_tokens), sum(cost),
      sum(latency), max(latency),
      count(*) FILTER (WHERE b = 0), count(*) FILTER (WHERE b = 1), count(*) FILTER (WHERE b = 2),
      count(*) FILTER (WHERE b = 3), count(*) FILTER (WHERE b = 4), count(*) FILTER (WHERE b = 5),
      count(*) FILTER (WHERE b = 6), count(*) FILTER (WHERE b = 7), count(*) FILTER (WHERE b = 8),
      count(*) FILTER (WHERE b = 9), count(*) FILTER (WHERE b = 10), count(*) FILTER (WHERE b = 11),
      count(*) FILTER (WHERE b = 12), count(*) FILTER (WHERE b = 13), count(*) FILTER (WHERE b = 14),
      count(*) FILTER (WHERE b = 15), count(*) FILTER (WHERE b = 16), count(*) FILTER (WHERE b = 17),
      count(*) FILTER (WHERE b = 18), count(*) FILTER (WHERE b = 19)
    FROM bucketed
    GROUP BY 1, 2, 3, 4, 5
    ON CONFLICT (org_id, hour, key_id, prompt_id, model) DO UPDATE SET
      requests = u.requests + EXCLUDED.requests, errors = u.errors + EXCLUDED.errors,
      canceled = u.canceled + EXCLUDED.canceled, cache_hits = u.cache_hits + EXCLUDED.cache_hits,
      prompt_tokens = u.prompt_tokens + EXCLUDED.prompt_tokens,
      completion_tokens = u.completion_tokens + EXCLUDED.completion_tokens, cost = u.cost + EXCLUDED.cost,
      latency_ms_sum = u.latency_ms_sum + EXCLUDED.latency_ms_sum,
      latency_max = GREATEST(u.latency_max, EXCLUDED.latency_max),
      lat_00 = u.lat_00 + EXCLUDED.lat_00, lat_01 = u.lat_01 + EXCLUDED.lat_01, lat_02 = u.lat_02 + EXCLUDED.lat_02,
      lat_03 = u.lat_03 + EXCLUDED.lat_03, lat_04 = u.lat_04 + EXCLUDED.lat_04, lat_05 = u.lat_05 + EXCLUDED.lat_05,
      lat_06 = u.lat_06 + EXCLUDED.lat_06, lat_07 = u.lat_07 + EXCLUDED.lat_07, lat_08 = u.lat_08 + EXCLUDED.lat_08,
      lat_09 = u.lat_09 + EXCLUDED.lat_09, lat_10 = u.lat_10 + EXCLUDED.lat_10, lat_11 = u.lat_11 + EXCLUDED.lat_11,
      lat_12 = u.lat_12 + EXCLUDED.lat_12, lat_13 = u.lat_13 + EXCLUDED.lat_13, lat_14 = u.lat_14 + EXCLUDED.lat_14,
      lat_15 = u.lat_15 + EXCLUDED.lat_15, lat_16 = u.lat_16 + EXCLUDED.lat_16, lat_17 = u.lat_17 + EXCLUDED.lat_17,
      lat_18 = u.lat_18 + EXCLUDED.lat_18, lat_19 = u.lat_19 + EXCLUDED.lat_19
    RETURNING 1
  ),
  daily AS (
    INSERT INTO usage_daily AS u (org_id, day, key_id, prompt_id, model, requests, errors, canceled, cache_hits,
      prompt_tokens, completion_tokens, cost, latency_ms_sum, latency_max, lat_00, lat_01, lat_02, lat_03, lat_04, lat_05, lat_06, lat_07, lat_08, lat_09, lat_10, lat_11, lat_12, lat_13, lat_14, lat_15, lat_16, lat_17, lat_18, lat_19)
    SELECT org_id, (at AT TIME ZONE 'UTC')::date, COALESCE(key_id, ''), COALESCE(prompt_id, ''), model,
      count(*), count(*) FILTER (WHERE status = 'failed'), count(*) FILTER (WHERE status = 'canceled'),
      count(*) FILTER (WHERE cache_hit), sum(prompt_tokens), sum(completion_tokens), sum(cost),
      sum(latency), max(latency),
      count(*) FILTER (WHERE b = 0), count(*) FILTER (WHERE b = 1), count(*) FILTER (WHERE b = 2),
      count(*) FILTER (WHERE b = 3), count(*) FILTER (WHERE b = 4), count(*) FILTER (WHERE b = 5),
      count(*) FILTER (WHERE b = 6), count(*) FILTER (WHERE b = 7), count(*) FILTER (WHERE b = 8),
      count(*) FILTER (WHERE b = 9), count(*) FILTER (WHERE b = 10), count(*) FILTER (WHERE b = 11),
      count(*) FILTER (WHERE b = 12), count(*) FILTER (WHERE b = 13), count(*) FILTER (WHERE b = 14),
      count(*) FILTER (WHERE b = 15), count(*) FILTER (WHERE b = 16), count(*) FILTER (WHERE b = 17),
      count(*) FILTER (WHERE b = 18), count(*) FILTER (WHERE b = 19)
    FROM bucketed
    GROUP BY 1, 2, 3, 4, 5
    ON CONFLICT (org_id, day, key_id, prompt_id, model) DO UPDATE SET
      requests = u.requests + EXCLUDED.requests, errors = u.errors + EXCLUDED.errors,
      canceled = u.canceled + EXCLUDED.canceled, cache_hits = u.cache_hits + EXCLUDED.cache_hits,
      prompt_tokens = u.prompt_tokens + EXCLUDED.prompt_tokens,
      completion_tokens = u.completion_tokens + EXCLUDED.completion_tokens, cost = u.cost + EXCLUDED.cost,
      latency_ms_sum = u.latency_ms_sum + EXCLUDED.latency_ms_sum,
      latency_max = GREATEST(u.latency_max, EXCLUDED.latency_max),
      lat_00 = u.lat_00 + EXCLUDED.lat_00, lat_01 = u.lat_01 + EXCLUDED.lat_01, lat_02 = u.lat_02 + EXCLUDED.lat_02,
      lat_03 = u.lat_03 + EXCLUDED.lat_03, lat_04 = u.lat_04 + EXCLUDED.lat_04, lat_05 = u.lat_05 + EXCLUDED.lat_05,
      lat_06 = u.lat_06 + EXCLUDED.lat_06, lat_07 = u.lat_07 + EXCLUDED.lat_07, lat_08 = u.lat_08 + EXCLUDED.lat_08,
      lat_09 = u.lat_09 + EXCLUDED.lat_09, lat_10 = u.lat_10 + EXCLUDED.lat_10, lat_11 = u.lat_11 + EXCLUDED.lat_11,
      lat_12 = u.lat_12 + EXCLUDED.lat_12, lat_13 = u.lat_13 + EXCLUDED.lat_13, lat_14 = u.lat_14 + EXCLUDED.lat_14,
      lat_15 = u.lat_15 + EXCLUDED.lat_15, lat_16 = u.lat_16 + EXCLUDED.lat_16, lat_17 = u.lat_17 + EXCLUDED.lat_17,
      lat_18 = u.lat_18 + EXCLUDED.lat_18, lat_19 = u.lat_19 + EXCLUDED.lat_19
    RETURNING 1
  ),
  totals AS (
    INSERT INTO usage_hourly_by AS u (org_id, dim, value, hour, requests, errors, canceled, cache_hits,
      prompt_tokens, completion_tokens, cost, latency_ms_sum, latency_max, lat_00, lat_01, lat_02, lat_03, lat_04, lat_05, lat_06, lat_07, lat_08, lat_09, lat_10, lat_11, lat_12, lat_13, lat_14, lat_15, lat_16, lat_17, lat_18, lat_19)
    SELECT org_id, d.dim, d.value, date_trunc('hour', at, 'UTC'),
      count(*), count(*) FILTER (WHERE status = 'failed'), count(*) FILTER (WHERE status = 'canceled'),
      count(*) FILTER (WHERE cache_hit), sum(prompt_tokens), sum(completion_tokens), sum(cost),
      sum(latency), max(latency),
      count(*) FILTER (WHERE b = 0), count(*) FILTER (WHERE b = 1), count(*) FILTER (WHERE b = 2),
      count(*) FILTER (WHERE b = 3), count(*) FILTER (WHERE b = 4), count(*) FILTER (WHERE b = 5),
      count(*) FILTER (WHERE b = 6), count(*) FILTER (WHERE b = 7), count(*) FILTER (WHERE b = 8),
      count(*) FILTER (WHERE b = 9), count(*) FILTER (WHERE b = 10), count(*) FILTER (WHERE b = 11),
      count(*) FILTER (WHERE b = 12), count(*) FILTER (WHERE b = 13), count(*) FILTER (WHERE b = 14),
      count(*) FILTER (WHERE b = 15), count(*) FILTER (WHERE b = 16), count(*) FILTER (WHERE b = 17),
      count(*) FILTER (WHERE b = 18), count(*) FILTER (WHERE b = 19)
    FROM bucketed
    CROSS JOIN LATERAL (VALUES ('org', ''), ('key', COALESCE(key_id, '')), ('prompt', COALESCE(prompt_id, '')),
                               ('model', model)) AS d(dim, value)
    GROUP BY 1, 2, 3, 4
    ON CONFLICT (org_id, dim, hour, value) DO UPDATE SET
      requests = u.requests + EXCLUDED.requests, errors = u.errors + EXCLUDED.errors,
      canceled = u.canceled + EXCLUDED.canceled, cache_hits = u.cache_hits + EXCLUDED.cache_hits,
      prompt_tokens = u.prompt_tokens + EXCLUDED.prompt_tokens,
      completion_tokens = u.completion_tokens + EXCLUDED.completion_tokens, cost = u.cost + EXCLUDED.cost,
      latency_ms_sum = u.latency_ms_sum + EXCLUDED.latency_ms_sum,
      latency_max = GREATEST(u.latency_max, EXCLUDED.latency_max),
      lat_00 = u.lat_00 + EXCLUDED.lat_00, lat_01 = u.lat_01 + EXCLUDED.lat_01, lat_02 = u.lat_02 + EXCLUDED.lat_02,
      lat_03 = u.lat_03 + EXCLUDED.lat_03, lat_04 = u.lat_04 + EXCLUDED.lat_04, lat_05 = u.lat_05 + EXCLUDED.lat_05,
      lat_06 = u.lat_06 + EXCLUDED.lat_06, lat_07 = u.lat_07 + EXCLUDED.lat_07, lat_08 = u.lat_08 + EXCLUDED.lat_08,
      lat_09 = u.lat_09 + EXCLUDED.lat_09, lat_10 = u.lat_10 + EXCLUDED.lat_10, lat_11 = u.lat_11 + EXCLUDED.lat_11,
      lat_12 = u.lat_12 + EXCLUDED.lat_12, lat_13 = u.lat_13 + EXCLUDED.lat_13, lat_14 = u.lat_14 + EXCLUDED.lat_14,
      lat_15 = u.lat_15 + EXCLUDED.lat_15, lat_16 = u.lat_16 + EXCLUDED.lat_16, lat_17 = u.lat_17 + EXCLUDED.lat_17,
      lat_18 = u.lat_18 + EXCLUDED.lat_18, lat_19 = u.lat_19 + EXCLUDED.lat_19
    RETURNING 1
  )
  SELECT (SELECT count(*) FROM hourly) + 0 * (SELECT count(*) FROM daily) + 0 * (SELECT count(*) FROM totals)
$$;

-- Whatever was recorded before this migration (a fresh database has nothing).
SELECT pm_usage_rollup_backfill('-infinity', 'infinity');

-- Alert rules: evaluated every minute by the worker (the promptmill-alerts Temporal schedule).
-- last_fired_window names the window the rule last fired in ('2026-11-29' for a UTC day, …): a rule
-- fires at most once per window, decided by one conditional UPDATE that commits with its
-- usage.alert event (events outbox), however many evaluators run at once.
CREATE TABLE IF NOT EXISTS alert_rules (
  id                  text PRIMARY KEY,
  org_id              text NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
  type                text NOT NULL CHECK (type IN ('usage_threshold', 'error_rate', 'cost_threshold')),
  name                text NOT NULL DEFAULT '',
  enabled             boolean NOT NULL DEFAULT true,
  threshold_percent   numeric,         -- usage_threshold, error_rate
  window_minutes      integer,         -- error_rate
  min_requests        integer,         -- error_rate
  amount_usd          numeric,         -- cost_threshold (per UTC day)
  key_id              text,            -- usage_threshold: also this key's own limits
  state               text NOT NULL DEFAULT 'ok' CHECK (state IN ('ok', 'firing')),
  last_value          numeric,
  last_evaluated_at   timestamptz,
  last_fired_at       timestamptz,
  last_fired_window   text,
  created_at          timestamptz NOT NULL DEFAULT now(),
  deleted_at          timestamptz
);
CREATE INDEX IF NOT EXISTS alert_rules_org ON alert_rules (org_id, created_at) WHERE deleted_at IS NULL;
CREATE INDEX IF NOT EXISTS alert_rules_enabled ON alert_rules (id) WHERE enabled AND deleted_at IS NULL;
