-- What a provider (or anything under a model call) said when an attempt failed: its own error text,
-- truncated to 2,000 characters. For operators only: tenants see the attempt's error code and the
-- run's fixed message, never this (it can hold the provider's keys, URLs, internal hosts).
ALTER TABLE usage_events ADD COLUMN IF NOT EXISTS error_detail text;

-- Runs failed before this migration kept the provider's text in their public error message
-- ("Model 'm' failed with HTTP 500: <provider body>"): cut it off, keeping the part Promptmill wrote
-- (non-greedy: at the first such prefix, whatever the provider's text repeats of it).
UPDATE runs
SET error_message = substring(error_message FROM '^(Model ''.*?'' (failed with HTTP [0-9]{3}|is unreachable|call failed))(: |$)')
WHERE error_code IN ('PROVIDER_ERROR', 'PROVIDER_REJECTED')
  AND error_message ~ '^Model ''.*'' (failed with HTTP [0-9]{3}|is unreachable|call failed): ';
UPDATE runs
SET error_message = substring(error_message FROM '^(The stream from model ''.*?'' broke after [0-9]+ chunks): ')
WHERE error_code = 'STREAM_BROKEN'
  AND error_message ~ '^The stream from model ''.*'' broke after [0-9]+ chunks: ';
