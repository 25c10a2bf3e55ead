-- Promptmill schema v5: rate limits that count each slot until its latest request leaves the window, and
-- key status from the time a refusal ends. Forward-only and idempotent (IF NOT EXISTS, CREATE OR REPLACE).

-- Until when the key's last refusal holds (the retry time of its last 429); the key lists as `rate_limited`
-- while this is in the future. Written by the batched usage flush, like last_limited_at (~1 s behind).
ALTER TABLE api_keys ADD COLUMN IF NOT EXISTS limited_until timestamptz;

-- Admission, version 2 (an overload: the 002 signature stays for api processes of the previous release
-- during a rolling deploy; a later migration may drop it).
--
-- What changed from 002: a slot no longer counts for a fixed "slot end + window" but until its latest
-- request leaves the window. Each admission stamps p_expires[i] = now + window (the next UTC midnight for
-- a day), and a slot's expires_at is the latest of its stamps; a slot counts while expires_at > p_now.
-- Every request of a slot happened at or before its latest one, so each is counted at least a full window
-- (no rolling window ever admits more than its limit, as before), and the retry time of a refusal is never
-- more than one window after the newest request (a rolling hour asks for at most 3600 s, not 3660 s).
-- Rows written by the 002 function carry slot end + window, which is later: still exact, only longer.
-- p_from[i] (now - window - slot) remains the index range; p_now is the decision's clock.
--
-- Limits are int4 (the counters' type). The api never passes more than 2^31-1; a value that does not fit
-- makes the statement fail, and the api treats that as an error, never as "no limit".
--
-- Returns one row per window, in input order: the count after this decision, when capacity next frees up
-- (the earliest expiry that still counts) and, for a full window, when it admits again (the expiry that
-- brings it back under its limit).
CREATE OR REPLACE FUNCTION promptmill_rate_limit_admit(
  p_lock text,
  p_now timestamptz,
  p_buckets text[],
  p_slot_starts timestamptz[],
  p_from timestamptz[],
  p_expires timestamptz[],
  p_limits integer[]
) RETURNS TABLE (used integer, reset_at timestamptz, retry_at timestamptz, admitted boolean)
LANGUAGE plpgsql VOLATILE AS $$
#variable_conflict use_column
DECLARE
  v_used integer[];
  v_reset timestamptz[];
  v_ok boolean;
BEGIN
  -- the same lock key space and per-organization serialization as 002 (both versions exclude each other)
  PERFORM pg_advisory_xact_lock(7272, hashtext(p_lock));
  PERFORM set_config('synchronous_commit', 'off', true);

  SELECT array_agg(coalesce(s.n, 0) ORDER BY w.ord),
         array_agg(s.first_expiry ORDER BY w.ord),
         coalesce(bool_and(coalesce(s.n, 0) < w.lim), true)
    INTO v_used, v_reset, v_ok
  FROM unnest(p_buckets, p_from, p_limits) WITH ORDINALITY AS w(bucket, from_ts, lim, ord)
  LEFT JOIN LATERAL (
    SELECT sum(c.count)::integer AS n, min(c.expires_at) AS first_expiry
    FROM rate_limit_counters c
    WHERE c.bucket = w.bucket AND c.slot_start > w.from_ts AND c.expires_at > p_now
  ) s ON true;

  IF v_ok THEN
    INSERT INTO rate_limit_counters AS c (bucket, slot_start, count, expires_at)
    SELECT u.bucket, u.slot_start, 1, u.expires_at
    FROM unnest(p_buckets, p_slot_starts, p_expires) AS u(bucket, slot_start, expires_at)
    ON CONFLICT (bucket, slot_start) DO UPDATE
      SET count = c.count + 1, expires_at = GREATEST(c.expires_at, EXCLUDED.expires_at);

    -- read the earliest expiry again: this request may have moved its own slot's
    RETURN QUERY
    SELECT u.n + 1, s.first_expiry, NULL::timestamptz, true
    FROM unnest(v_used, p_buckets, p_from) WITH ORDINALITY AS u(n, bucket, from_ts, ord)
    LEFT JOIN LATERAL (
      SELECT min(c.expires_at) AS first_expiry
      FROM rate_limit_counters c
      WHERE c.bucket = u.bucket AND c.slot_start > u.from_ts AND c.expires_at > p_now
    ) s ON true
    ORDER BY u.ord;
  ELSE
    RETURN QUERY
    SELECT u.n, u.first_expiry,
      CASE WHEN u.n >= u.lim THEN (
        SELECT x.expires_at
        FROM (
          SELECT c.expires_at,
                 u.n - sum(c.count) OVER (ORDER BY c.expires_at, c.slot_start) AS left_after
          FROM rate_limit_counters c
          WHERE c.bucket = u.bucket AND c.slot_start > u.from_ts AND c.expires_at > p_now
        ) x
        WHERE x.left_after < u.lim
        ORDER BY x.expires_at
        LIMIT 1)
      END,
      false
    FROM unnest(v_used, v_reset, p_buckets, p_from, p_limits) WITH ORDINALITY
      AS u(n, first_expiry, bucket, from_ts, lim, ord)
    ORDER BY u.ord;
  END IF;
END
$$;

-- Read-only twin for GET /v1/me, with the same counting rule.
CREATE OR REPLACE FUNCTION promptmill_rate_limit_peek(
  p_now timestamptz,
  p_buckets text[],
  p_from timestamptz[]
) RETURNS TABLE (used integer, reset_at timestamptz)
LANGUAGE sql STABLE AS $$
  SELECT coalesce(sum(c.count), 0)::integer, min(c.expires_at)
  FROM unnest(p_buckets, p_from) WITH ORDINALITY AS w(bucket, from_ts, ord)
  LEFT JOIN rate_limit_counters c
    ON c.bucket = w.bucket AND c.slot_start > w.from_ts AND c.expires_at > p_now
  GROUP BY w.ord
  ORDER BY w.ord
$$;
