-- Direct mode (SYNC_RUN_MODE=direct): the api process executes sync and streaming runs itself,
-- without a workflow. Such a run is recorded with mode 'direct'; while it runs, its api process
-- holds a lease on it (direct_lease_until, renewed every third of the lease for long runs). A run
-- whose lease has run out belongs to a process that stopped: every api process sweeps for those
-- (the partial index below holds only unfinished runs with a lease) and fails them.
ALTER TABLE runs DROP CONSTRAINT IF EXISTS runs_mode_check;
ALTER TABLE runs ADD CONSTRAINT runs_mode_check CHECK (mode IN ('sync', 'stream', 'async', 'direct'));
ALTER TABLE runs ADD COLUMN IF NOT EXISTS direct_lease_until timestamptz;
CREATE INDEX IF NOT EXISTS runs_direct_lease ON runs (direct_lease_until)
  WHERE direct_lease_until IS NOT NULL AND status IN ('queued', 'running');
