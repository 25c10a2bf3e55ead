-- Prompt listings are per organization, newest first, and skip deleted prompts.
CREATE INDEX IF NOT EXISTS prompts_org_created ON prompts (org_id, created_at DESC, id DESC)
  WHERE deleted_at IS NULL;
