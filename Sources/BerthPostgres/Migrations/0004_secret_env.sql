-- Berth schema, version 4: secret environment variables (issue 7).
-- The values are sealed (AES-256-GCM) before they reach the database; only their names are
-- kept in the clear, for the API to show.

ALTER TABLE executions
    ADD COLUMN secret_env bytea,
    ADD COLUMN secret_env_names jsonb NOT NULL DEFAULT '[]' CHECK (jsonb_typeof(secret_env_names) = 'array');
