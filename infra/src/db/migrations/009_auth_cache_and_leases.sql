-- Promptmill schema v9: what lets the api keep authentication and rate limits off the per-request path.
-- Forward-only and idempotent (CREATE OR REPLACE, DROP TRIGGER IF EXISTS before CREATE TRIGGER).

-- 1. Invalidation of the api's per-process key cache.
--
-- Each api process caches the key rows authentication reads (api_keys joined with the owner member and
-- the organization) and LISTENs on `pm_auth_invalidate`. Every change to those rows NOTIFYs that channel
-- from a trigger, so in the transaction of the change itself, whoever writes it: the api's own writers
-- (revoke, rotate, patch, member suspend/unsuspend/remove, org patch), the operator API, a migration or
-- an operator's psql session. NOTIFY is delivered at commit and not at all on rollback. Payloads:
-- `k:<key id>`, `m:<member id>`, `o:<org id>`, `*` (a TRUNCATE: drop everything). Identical payloads in one
-- transaction are delivered once, so a bulk update sends one message per row it changes.
--
-- api_keys: the batched usage flush updates usage_count, last_used_at, last_limited_at and limited_until
-- about once a second; those columns do not affect authentication, so changes to only them notify
-- nobody. Any other column does, including columns added later (the comparison leaves out only these).
CREATE OR REPLACE FUNCTION promptmill_auth_changed() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  IF TG_LEVEL = 'STATEMENT' THEN
    PERFORM pg_notify('pm_auth_invalidate', '*');
  ELSE
    PERFORM pg_notify('pm_auth_invalidate', TG_ARGV[0] || ':' || OLD.id);
  END IF;
  RETURN NULL;
END
$$;

DROP TRIGGER IF EXISTS api_keys_auth_changed ON api_keys;
CREATE TRIGGER api_keys_auth_changed AFTER UPDATE ON api_keys FOR EACH ROW
  WHEN ((to_jsonb(OLD) - ARRAY['usage_count', 'last_used_at', 'last_limited_at', 'limited_until'])
        IS DISTINCT FROM
        (to_jsonb(NEW) - ARRAY['usage_count', 'last_used_at', 'last_limited_at', 'limited_until']))
  EXECUTE FUNCTION promptmill_auth_changed('k');
DROP TRIGGER IF EXISTS api_keys_auth_deleted ON api_keys;
CREATE TRIGGER api_keys_auth_deleted AFTER DELETE ON api_keys FOR EACH ROW
  EXECUTE FUNCTION promptmill_auth_changed('k');
DROP TRIGGER IF EXISTS api_keys_auth_truncated ON api_keys;
CREATE TRIGGER api_keys_auth_truncated AFTER TRUNCATE ON api_keys FOR EACH STATEMENT
  EXECUTE FUNCTION promptmill_auth_changed();

DROP TRIGGER IF EXISTS members_auth_changed ON members;
CREATE TRIGGER members_auth_changed AFTER UPDATE ON members FOR EACH ROW
  WHEN (OLD.* IS DISTINCT FROM NEW.*)
  EXECUTE FUNCTION promptmill_auth_changed('m');
DROP TRIGGER IF EXISTS members_auth_deleted ON members;
CREATE TRIGGER members_auth_deleted AFTER DELETE ON members FOR EACH ROW
  EXECUTE FUNCTION promptmill_auth_changed('m');
DROP TRIGGER IF EXISTS members_auth_truncated ON members;
CREATE TRIGGER members_auth_truncated AFTER TRUNCATE ON members FOR EACH STATEMENT
  EXECUTE FUNCTION promptmill_auth_changed();

DROP TRIGGER IF EXISTS organizations_auth_changed ON organizations;
CREATE TRIGGER organizations_auth_changed AFTER UPDATE ON organizations FOR EACH ROW
  WHEN (OLD.* IS DISTINCT FROM NEW.*)
  EXECUTE FUNCTION promptmill_auth_changed('o');
DROP TRIGGER IF EXISTS organizations_auth_deleted ON organizations;
CREATE TRIGGER organizations_auth_deleted AFTER DELETE ON organizations FOR EACH ROW
  EXECUTE FUNCTION promptmill_auth_changed('o');
DROP TRIGGER IF EXISTS organizations_auth_truncated ON organizations;
CREATE TRIGGER organizations_auth_truncated AFTER TRUNCATE ON organizations FOR EACH STATEMENT
  EXECUTE FUNCTION promptmill_auth_changed();

-- 2. Permit leases.
--
-- Admission, version 3: one call takes up to p_want permits for every window of a request at once (all
-- windows or none, as before), and the api process admits that many requests from memory. Exactness
-- across processes is kept by counting every permit at lease time, and by counting a lease longer:
--
-- - A single permit (granted = 1) is the asking request's, decided now: it counts exactly like 005's
--   admission (its slot stamped p_expires = now + window; the next UTC midnight for a day).
-- - A lease (granted > 1) may be spent only until the end of the current slot of the request's shortest
--   slot (the api passes that instant as the lease's end: the end of the current second, since every
--   request has its organization's rolling minute). Its slots are stamped p_lease_expires = lease end +
--   window (the next UTC midnight for a day), so every permit counts at least a full window after any
--   instant it can be spent at: no rolling window ever admits more than its limit, whichever process
--   spends the permits and when. The lease end is within the slot, so the index range p_from
--   (now - window - slot) still covers every slot that counts.
-- - The share: a lease takes at most 1/p_share of the tightest window's room (at least 1), so several
--   processes can lease from one window, and near the limit leases shrink to single permits (as 005).
-- - p_return: the permits this process leased last time for the same windows and did not spend (its
--   lease ended). They are given back first, in the same transaction, from the slots they were counted
--   in (p_return_slots): an unspent permit never admitted anything, so removing it cannot over-admit.
--
-- Serialized per organization (the same lock key space as 002/005, so all three versions exclude each
-- other during a rolling deploy). Returns one row per window, in input order: the count after this call,
-- when capacity next frees up, for a full window when it admits again (as 005), and the permits granted
-- (0 = refused; the same on every row).
CREATE OR REPLACE FUNCTION promptmill_rate_limit_lease(
  p_lock text,
  p_now timestamptz,
  p_buckets text[],
  p_slot_starts timestamptz[],
  p_from timestamptz[],
  p_expires timestamptz[],
  p_lease_expires timestamptz[],
  p_limits integer[],
  p_want integer,
  p_share integer,
  p_return integer,
  p_return_slots timestamptz[]
) RETURNS TABLE (used integer, reset_at timestamptz, retry_at timestamptz, granted integer)
LANGUAGE plpgsql VOLATILE AS $$
#variable_conflict use_column
DECLARE
  v_used integer[];
  v_reset timestamptz[];
  v_room integer;
  v_grant integer;
BEGIN
  PERFORM pg_advisory_xact_lock(7272, hashtext(p_lock));
  PERFORM set_config('synchronous_commit', 'off', true);

  IF p_return > 0 THEN
    UPDATE rate_limit_counters AS c SET count = GREATEST(c.count - p_return, 0)
    FROM unnest(p_buckets, p_return_slots) AS r(bucket, slot_start)
    WHERE c.bucket = r.bucket AND c.slot_start = r.slot_start;
  END IF;

  SELECT array_agg(coalesce(s.n, 0) ORDER BY w.ord),
         array_agg(s.first_expiry ORDER BY w.ord),
         min(w.lim - coalesce(s.n, 0))
    INTO v_used, v_reset, v_room
  FROM unnest(p_buckets, p_from, p_limits) WITH ORDINALITY AS w(bucket, from_ts, lim, ord)
  LEFT JOIN LATERAL (
    SELECT sum(c.count)::integer AS n, min(c.expires_at) AS first_expiry
    FROM rate_limit_counters c
    WHERE c.bucket = w.bucket AND c.slot_start > w.from_ts AND c.expires_at > p_now
  ) s ON true;

  v_grant := CASE
    WHEN v_room IS NULL THEN GREATEST(p_want, 1)
    WHEN v_room < 1 THEN 0
    ELSE LEAST(GREATEST(p_want, 1), GREATEST(1, v_room / GREATEST(p_share, 1)))
  END;

  IF v_grant > 0 THEN
    INSERT INTO rate_limit_counters AS c (bucket, slot_start, count, expires_at)
    SELECT u.bucket, u.slot_start, v_grant, CASE WHEN v_grant > 1 THEN u.lease_expires ELSE u.expires_at END
    FROM unnest(p_buckets, p_slot_starts, p_expires, p_lease_expires)
      AS u(bucket, slot_start, expires_at, lease_expires)
    ON CONFLICT (bucket, slot_start) DO UPDATE
      SET count = c.count + EXCLUDED.count, expires_at = GREATEST(c.expires_at, EXCLUDED.expires_at);

    RETURN QUERY
    SELECT u.n + v_grant, s.first_expiry, NULL::timestamptz, v_grant
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
      0
    FROM unnest(v_used, v_reset, p_buckets, p_from, p_limits) WITH ORDINALITY
      AS u(n, first_expiry, bucket, from_ts, lim, ord)
    ORDER BY u.ord;
  END IF;
END
$$;

-- Gives back permits leased and not spent (their lease ended, or the process is stopping), from the slots
-- they were counted in. Takes the admission lock of every organization concerned, in one order, so it
-- never deadlocks with an admission (which holds one organization's lock while it updates that
-- organization's rows) or with another process's release. Returns the number of counter rows changed.
CREATE OR REPLACE FUNCTION promptmill_rate_limit_release(
  p_locks text[],
  p_buckets text[],
  p_slot_starts timestamptz[],
  p_counts integer[]
) RETURNS integer
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
  v_lock integer;
  v_rows integer;
BEGIN
  FOR v_lock IN SELECT DISTINCT hashtext(l) FROM unnest(p_locks) AS l ORDER BY 1 LOOP
    PERFORM pg_advisory_xact_lock(7272, v_lock);
  END LOOP;
  PERFORM set_config('synchronous_commit', 'off', true);

  UPDATE rate_limit_counters AS c SET count = GREATEST(c.count - r.n, 0)
  FROM (
    SELECT u.bucket, u.slot_start, sum(u.n)::integer AS n
    FROM unnest(p_buckets, p_slot_starts, p_counts) AS u(bucket, slot_start, n)
    GROUP BY u.bucket, u.slot_start
  ) r
  WHERE c.bucket = r.bucket AND c.slot_start = r.slot_start;
  GET DIAGNOSTICS v_rows = ROW_COUNT;
  RETURN v_rows;
END
$$;
