-- Promptmill schema v2: key status and the atomic rate-limit admission used by every api process.
-- Forward-only: never edit a migration that has landed; add the next number instead.
--
-- This file replaces 002_auth_limits.sql (landed briefly with an admission function that could
-- over-admit when two processes took the lock out of timestamp order). It is written to be
-- idempotent (IF NOT EXISTS, CREATE OR REPLACE) so that a database that already applied the old
-- file applies this one too and ends in the same state as a fresh one.

-- Last time the key got a 429; a key limited within the last minute lists as `rate_limited`.
-- Written by the batched usage flush, like usage_count and last_used_at (eventually consistent, ~1 s).
ALTER TABLE api_keys ADD COLUMN IF NOT EXISTS last_limited_at timestamptz;
CREATE INDEX IF NOT EXISTS api_keys_owner ON api_keys (owner_member_id);

-- Admits one request against every window that applies to it, or against none.
--
-- Each window i is a bucket of fixed-size slots in rate_limit_counters. The caller (the api) passes
-- the times, so one injected clock governs every process: p_slot_starts[i] is the slot the request
-- is recorded in, p_from[i] the exclusive lower bound of the slot starts that count
-- (now - window - slot), p_expires[i] when the recorded slot stops counting. Counting the slot that
-- straddles the window's start makes the window slightly conservative: no rolling window of the
-- given length ever admits more than its limit, and a request may be refused at most one slot
-- longer than strictly needed. Slots later than the request's own are counted too: they hold
-- requests admitted before this one (their process read its clock a moment later), so leaving them
-- out would let a burst at a slot boundary in twice.
--
-- Every window of one organization is read and written under one transaction-scoped advisory lock
-- (two-int key space 7272, separate from single-bigint locks such as the migration lock), so two
-- processes can never both see "limit - 1" and both admit; a refused request increments nothing.
-- Statements inside a VOLATILE plpgsql function take a fresh snapshot each in READ COMMITTED, so the
-- sums read after the lock see everything the previous holder committed (it becomes visible before
-- its locks are released). The lock is held until commit, so the commit does not wait for the WAL
-- flush (synchronous_commit off for this transaction only): a database crash can lose the last few
-- hundred milliseconds of counts, never admit a request twice.
--
-- Returns one row per window, in input order: the count after this decision, the oldest slot that
-- still counts (its expiry is when capacity next frees up), and for a full window the slot whose
-- expiry brings it back under its limit (for Retry-After).
CREATE OR REPLACE FUNCTION promptmill_rate_limit_admit(
  p_lock text,
  p_buckets text[],
  p_slot_starts timestamptz[],
  p_from timestamptz[],
  p_expires timestamptz[],
  p_limits integer[]
) RETURNS TABLE (used integer, oldest timestamptz, release timestamptz, admitted boolean)
LANGUAGE plpgsql VOLATILE AS $$
#variable_conflict use_column
DECLARE
  v_used integer[];
  v_oldest timestamptz[];
  v_ok boolean;
BEGIN
  PERFORM pg_advisory_xact_lock(7272, hashtext(p_lock));
  PERFORM set_config('synchronous_commit', 'off', true);

  SELECT array_agg(coalesce(s.n, 0) ORDER BY w.ord),
         array_agg(s.first_slot ORDER BY w.ord),
         coalesce(bool_and(coalesce(s.n, 0) < w.lim), true)
    INTO v_used, v_oldest, v_ok
  FROM unnest(p_buckets, p_from, p_limits) WITH ORDINALITY AS w(bucket, from_ts, lim, ord)
  LEFT JOIN LATERAL (
    SELECT sum(c.count)::integer AS n, min(c.slot_start) AS first_slot
    FROM rate_limit_counters c
    WHERE c.bucket = w.bucket AND c.slot_start > w.from_ts
  ) s ON true;

  IF v_ok THEN
    INSERT INTO rate_limit_counters AS c (bucket, slot_start, count, expires_at)
    SELECT u.bucket, u.slot_start, 1, u.expires_at
    FROM unnest(p_buckets, p_slot_starts, p_expires) AS u(bucket, slot_start, expires_at)
    ON CONFLICT (bucket, slot_start) DO UPDATE SET count = c.count + 1;

    RETURN QUERY
    SELECT u.n + 1, LEAST(u.first_slot, u.slot_start), NULL::timestamptz, true
    FROM unnest(v_used, v_oldest, p_slot_starts) AS u(n, first_slot, slot_start);
  ELSE
    RETURN QUERY
    SELECT u.n, u.first_slot,
      CASE WHEN u.n >= u.lim THEN (
        SELECT x.slot_start
        FROM (
          SELECT c.slot_start, u.n - sum(c.count) OVER (ORDER BY c.slot_start) AS left_after
          FROM rate_limit_counters c
          WHERE c.bucket = u.bucket AND c.slot_start > u.from_ts
        ) x
        WHERE x.left_after < u.lim
        ORDER BY x.slot_start
        LIMIT 1)
      END,
      false
    FROM unnest(v_used, v_oldest, p_buckets, p_from, p_limits) AS u(n, first_slot, bucket, from_ts, lim);
  END IF;
END
$$;

-- Read-only twin for GET /v1/me: the current count of each window, without admitting anything.
CREATE OR REPLACE FUNCTION promptmill_rate_limit_peek(
  p_buckets text[],
  p_slot_starts timestamptz[],
  p_from timestamptz[]
) RETURNS TABLE (used integer, oldest timestamptz)
LANGUAGE sql STABLE AS $$
  SELECT coalesce(sum(c.count), 0)::integer, min(c.slot_start)
  FROM unnest(p_buckets, p_slot_starts, p_from) WITH ORDINALITY AS w(bucket, slot_start, from_ts, ord)
  LEFT JOIN rate_limit_counters c ON c.bucket = w.bucket AND c.slot_start > w.from_ts
  GROUP BY w.ord
  ORDER BY w.ord
$$;
