-- Berth schema, version 6: inputs and collected outputs (issue 8).

-- The inline config of a submission, written into each attempt's container as a file; `keep`
-- leaves finished runtime objects on their host until retention; `outputs_expired_at` says when
-- retention removed the logs and collected outputs of a finished execution.
ALTER TABLE executions
    ADD COLUMN config jsonb CHECK (config IS NULL OR jsonb_typeof(config) = 'object'),
    ADD COLUMN keep boolean NOT NULL DEFAULT false,
    ADD COLUMN outputs_expired_at timestamptz;

-- Retention finds finished executions by the time they finished.
CREATE INDEX executions_retention_idx ON executions (finished_at) WHERE outputs_expired_at IS NULL;

-- The outputs collected from an attempt's container after it ended (a tar archive of
-- /berth/out), stored in chunks; one set per attempt. `complete` is false while collecting and
-- when the collection failed or passed the cap (`error` says which).
CREATE TABLE artifact_sets (
    execution_id uuid NOT NULL REFERENCES executions (id) ON DELETE CASCADE,
    attempt      integer NOT NULL CHECK (attempt >= 1),
    bytes        bigint NOT NULL DEFAULT 0 CHECK (bytes >= 0),
    complete     boolean NOT NULL DEFAULT false,
    error        text,
    at           timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (execution_id, attempt)
);

CREATE TABLE artifact_chunks (
    execution_id uuid NOT NULL,
    attempt      integer NOT NULL,
    seq          integer NOT NULL CHECK (seq >= 1),
    data         bytea NOT NULL,
    PRIMARY KEY (execution_id, attempt, seq),
    FOREIGN KEY (execution_id, attempt) REFERENCES artifact_sets (execution_id, attempt) ON DELETE CASCADE
);
