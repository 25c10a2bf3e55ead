-- Change notifications (NOTIFY is sent when the transaction commits, never for a rollback), sent
-- by triggers so that every statement that makes the change announces it, with no extra round trip.
--
-- A run's end is announced to every api process on pm_run_done: the api process holding a sync
-- run's (or a `Prefer: wait` request's) connection answers at once, instead of when the workflow
-- completes (@promptmill/infra/run-stream, run-done.ts). The payload is the ended row's answer
-- as JSON (what the workflow returns: status, output, model, error, usage, attempts, times), or,
-- when that would not fit NOTIFY's 8000-byte limit, the run id alone (the api then reads the row).
-- Every statement that ends a run announces it: the workflow's completion, a refused or abandoned
-- start, a cancel before dispatch, and any written later.
CREATE OR REPLACE FUNCTION pm_notify_run_done() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  payload text := json_build_object(
    'id', NEW.id, 'status', NEW.status, 'output', NEW.output, 'model', NEW.model,
    'errorCode', NEW.error_code, 'errorMessage', NEW.error_message,
    'promptTokens', NEW.prompt_tokens, 'completionTokens', NEW.completion_tokens, 'cost', NEW.cost,
    'attempts', NEW.attempts, 'createdAt', NEW.created_at, 'startedAt', NEW.started_at,
    'finishedAt', NEW.finished_at)::text;
BEGIN
  IF octet_length(payload) > 7900 THEN
    payload := NEW.id;
  END IF;
  PERFORM pg_notify('pm_run_done', payload);
  RETURN NULL;
END;
$$;

DROP TRIGGER IF EXISTS runs_done_notify ON runs;
CREATE TRIGGER runs_done_notify
  AFTER UPDATE OF status ON runs
  FOR EACH ROW
  WHEN (OLD.status IN ('queued', 'running') AND NEW.status IN ('succeeded', 'failed', 'canceled'))
  EXECUTE FUNCTION pm_notify_run_done();

-- A prompt's row or labels changed (payload = prompt id): every api process drops what it cached
-- of that prompt for runs (api/src/prompts/run-prompt-cache.ts). Versions are immutable and need
-- none; a new version changes what runs resolve only through its labels (prompt_labels) and the
-- prompt row's latest_version. Postgres collapses repeats within one transaction into one NOTIFY.
CREATE OR REPLACE FUNCTION pm_notify_prompt_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'DELETE' THEN
    PERFORM pg_notify('pm_prompt_changed', OLD.id);
  ELSE
    PERFORM pg_notify('pm_prompt_changed', NEW.id);
  END IF;
  RETURN NULL;
END;
$$;

CREATE OR REPLACE FUNCTION pm_notify_prompt_label_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'DELETE' THEN
    PERFORM pg_notify('pm_prompt_changed', OLD.prompt_id);
  ELSE
    PERFORM pg_notify('pm_prompt_changed', NEW.prompt_id);
  END IF;
  RETURN NULL;
END;
$$;

DROP TRIGGER IF EXISTS prompts_changed_notify ON prompts;
CREATE TRIGGER prompts_changed_notify
  AFTER UPDATE OR DELETE ON prompts
  FOR EACH ROW EXECUTE FUNCTION pm_notify_prompt_changed();

DROP TRIGGER IF EXISTS prompt_labels_changed_notify ON prompt_labels;
CREATE TRIGGER prompt_labels_changed_notify
  AFTER INSERT OR UPDATE OR DELETE ON prompt_labels
  FOR EACH ROW EXECUTE FUNCTION pm_notify_prompt_label_changed();
