-- Promptmill schema v2: key status and the atomic rate-limit admission used by every api process.
-- Forward-only: never edit a migration that has landed; add the next number instead.

-- Last time the key got a 429; a key limited within the last minute lists as `rate_limited`.
-- Written by the batched usage flush, like usage_count and last_used_at (eventually consistent, ~1 s).
ALTER TABLE api_keys ADD COLUMN last_limited_at timestamptz;
CREATE INDEX api_keys_owner ON api_keys (owner_member_id);

-- Admits one request against every window that applies to it, or against none.
--
-- Each window i is a bucket of fixed-size slots in rate_limit_counters. The caller (the api) passes
-- the times, so one injected clock governs every process: p_slot_starts[i] is the slot `now` falls
-- in, p_from[i] the exclusive lower bound of the slot starts that count (now - window - slot), and
-- p_expires[i] when the current slot stops counting. Counting the slot that straddles the window's
-- start makes the window slightly conservative: no rolling window of the given length ever admits
-- more than its limit, and a request may be refused at most one slot longer than strictly needed.
--
-- Every window of one organization is read and written under one transaction-scoped advisory lock
-- (two-int key space 7272, separate from single-bigint locks such as the migration lock), so two
-- processes can never both see "limit - 1" and both admit. A denied request increments nothing.
-- Statements inside a VOLATILE plpgsql function take a fresh snapshot each in READ COMMITTED, so the
-- sums read after the lock see everything the previous holder committed.
--
-- Returns one row per window, in input order: the count after this decision, the oldest slot that
-- still counts (its expiry is when capacity next frees up), and for a full window the slot whose
-- expiry brings it back under its limit (for Retry-After).
CREATE FUNCTION promptmill_rate_limit_admit(
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
  n integer := coalesce(array_length(p_buckets, 1), 0);
  v_used integer[] := '{}';
  v_oldest timestamptz[] := '{}';
  v_release timestamptz[] := '{}';
  v_ok boolean := true;
  v_sum bigint;
  v_min timestamptz;
  v_rel timestamptz;
  i integer;
BEGIN
  PERFORM pg_advisory_xact_lock(7272, hashtext(p_lock));
  FOR i IN 1..n LOOP
    SELECT coalesce(sum(c.count), 0), min(c.slot_start) INTO v_sum, v_min
    FROM rate_limit_counters c
    WHERE c.bucket = p_buckets[i] AND c.slot_start > p_from[i] AND c.slot_start <= p_slot_starts[i];
    v_rel := NULL;
    IF v_sum >= p_limits[i] THEN
      v_ok := false;
      SELECT x.slot_start INTO v_rel
      FROM (
        SELECT c.slot_start, v_sum - sum(c.count) OVER (ORDER BY c.slot_start) AS left_after
        FROM rate_limit_counters c
        WHERE c.bucket = p_buckets[i] AND c.slot_start > p_from[i] AND c.slot_start <= p_slot_starts[i]
      ) x
      WHERE x.left_after < p_limits[i]
      ORDER BY x.slot_start
      LIMIT 1;
    END IF;
    v_used := array_append(v_used, v_sum::integer);
    v_oldest := array_append(v_oldest, v_min);
    v_release := array_append(v_release, v_rel);
  END LOOP;
  IF v_ok THEN
    FOR i IN 1..n LOOP
      INSERT INTO rate_limit_counters AS c (bucket, slot_start, count, expires_at)
      VALUES (p_buckets[i], p_slot_starts[i], 1, p_expires[i])
      ON CONFLICT (bucket, slot_start) DO UPDATE SET count = c.count + 1;
      v_used[i] := v_used[i] + 1;
      v_oldest[i] := coalesce(v_oldest[i], p_slot_starts[i]);
    END LOOP;
  END IF;
  RETURN QUERY SELECT u.used, u.oldest, u.release, v_ok
  FROM unnest(v_used, v_oldest, v_release) AS u(used, oldest, release);
END
$$;

-- Read-only twin for GET /v1/me: the current count of each window, without admitting anything.
CREATE FUNCTION promptmill_rate_limit_peek(
  p_buckets text[],
  p_slot_starts timestamptz[],
  p_from timestamptz[]
) RETURNS TABLE (used integer, oldest timestamptz)
LANGUAGE sql STABLE AS $$
  SELECT coalesce(sum(c.count), 0)::integer, min(c.slot_start)
  FROM unnest(p_buckets, p_slot_starts, p_from) WITH ORDINALITY AS w(bucket, slot_start, from_ts, ord)
  LEFT JOIN rate_limit_counters c
    ON c.bucket = w.bucket AND c.slot_start > w.from_ts AND c.slot_start <= w.slot_start
  GROUP BY w.ord
  ORDER BY w.ord
$$;
