-- Berth schema, version 8: execution templates (issue 12).
-- A template is a named, versioned execution spec with a JSON Schema for its parameters. A
-- version never changes once written; the next version of a name is one more than its
-- highest (the primary key makes two writers of the same version conflict, and the writer
-- retries). An execution records the template name and version it came from.

CREATE TABLE execution_templates (
    name               text NOT NULL,
    version            integer NOT NULL CHECK (version >= 1),
    description        text,
    spec               text NOT NULL,  -- JSON text (as given: jsonb refuses \u0000)
    parameters_schema  text,           -- JSON text
    created_by         text NOT NULL,
    created_at         timestamptz NOT NULL DEFAULT now(),
    deprecated_at      timestamptz,
    deprecation_reason text,
    PRIMARY KEY (name, version)
);

ALTER TABLE executions ADD COLUMN template_name text, ADD COLUMN template_version integer;
