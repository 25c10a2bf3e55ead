-- Expired identical-request cache rows are purged by every api process in small batches, oldest
-- expiry first (deleteExpiredRunCache): without this index each batch would scan the whole table.
CREATE INDEX IF NOT EXISTS run_cache_expiry ON run_cache (expires_at);
