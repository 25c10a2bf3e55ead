-- Async runs are answered (202) once their row is committed, before their workflow is started: the
-- row is the outbox. An in-process dispatcher starts the workflow moments later, and a sweeper in
-- every api process starts whatever a crashed or stopped process left behind.
--
-- workflow_input: everything needed to start the run's workflow (RunPromptWorkflowInput); set for
--   async runs only (sync, stream and agent runs start their workflow inline), cleared when the run
--   finishes.
-- dispatched_at: when a dispatcher claimed the run to start its workflow; NULL = nobody has yet.
--   The claim comes before the start, so a cancel of an unclaimed run and a dispatcher claiming it
--   are one conditional UPDATE each on the same row: exactly one wins. A run still queued long
--   after its claim (the claiming process died between claim and start) is claimed again; starting
--   twice is harmless (workflow id = run id).
ALTER TABLE runs ADD COLUMN IF NOT EXISTS workflow_input jsonb;
ALTER TABLE runs ADD COLUMN IF NOT EXISTS dispatched_at timestamptz;

-- What the sweepers scan: queued async runs only, oldest first (small: runs leave it once running).
CREATE INDEX IF NOT EXISTS runs_dispatch_pending ON runs (created_at)
  WHERE status = 'queued' AND workflow_input IS NOT NULL;
