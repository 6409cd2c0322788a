-- Berth schema, version 5: outputs (issue 8).
--
-- The log cap: the bytes of output stored for an execution (all attempts, both streams), and
-- whether its output was cut at the cap (a marker chunk says where).

ALTER TABLE executions
    ADD COLUMN log_bytes bigint NOT NULL DEFAULT 0 CHECK (log_bytes >= 0),
    ADD COLUMN log_cut boolean NOT NULL DEFAULT false;

-- What an execution reports about itself: a line `::berth::progress {json}` or
-- `::berth::result {json}` on the container's stdout, or the result file a Docker backend collects after exit. One row per execution and kind: the
-- latest report of the latest attempt (an older write never replaces a newer one).

CREATE TABLE execution_reports (
    execution_id uuid NOT NULL REFERENCES executions (id) ON DELETE CASCADE,
    kind         text NOT NULL CHECK (kind IN ('progress', 'result')),
    attempt      integer NOT NULL CHECK (attempt >= 1),
    source       text NOT NULL CHECK (source IN ('stdout', 'file')),
    body         jsonb NOT NULL CHECK (jsonb_typeof(body) = 'object'),
    at           timestamptz NOT NULL,
    PRIMARY KEY (execution_id, kind)
);
