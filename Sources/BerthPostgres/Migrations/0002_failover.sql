-- Berth schema, version 2: retry policies and the deployment's identity (issue 6).
-- An execution whose attempt failed or was lost may go back to `queued` for another attempt;
-- `not_before` holds it there until its backoff has passed.

ALTER TABLE executions
    ADD COLUMN max_attempts integer NOT NULL DEFAULT 1 CHECK (max_attempts BETWEEN 1 AND 100),
    ADD COLUMN retry_on_exit_codes jsonb NOT NULL DEFAULT '[]' CHECK (jsonb_typeof(retry_on_exit_codes) = 'array'),
    ADD COLUMN retry_backoff_seconds double precision NOT NULL DEFAULT 2
        CHECK (retry_backoff_seconds >= 0 AND retry_backoff_seconds <= 3600),
    ADD COLUMN not_before timestamptz;

-- The scheduler's wake-up for the next retry that falls due.
CREATE INDEX executions_retry_idx ON executions (not_before) WHERE state = 'queued' AND not_before IS NOT NULL;

-- Facts about the deployment every server sharing this database must agree on. `server_id`:
-- the berth.server label of every runtime object, recorded by the first server that starts.
CREATE TABLE deployment (
    key   text PRIMARY KEY,
    value text NOT NULL
);
