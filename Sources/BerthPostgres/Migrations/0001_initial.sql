-- Berth schema, version 1.
-- Applied by PostgresMigrator inside one transaction that holds the migration advisory lock.

-- Timestamps cross the wire as microseconds since 1970 (bigint): exact, no text parsing.
CREATE FUNCTION berth_us(timestamptz) RETURNS bigint
    LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
    AS $$ SELECT (extract(epoch FROM $1) * 1000000)::bigint $$;

CREATE FUNCTION berth_ts(bigint) RETURNS timestamptz
    LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
    AS $$ SELECT to_timestamp(0) + $1 * interval '1 microsecond' $$;

CREATE TABLE executions (
    id              uuid PRIMARY KEY,
    name            text,
    owner           text NOT NULL,
    image           text NOT NULL,
    command         jsonb CHECK (command IS NULL OR jsonb_typeof(command) = 'array'),
    args            jsonb NOT NULL DEFAULT '[]' CHECK (jsonb_typeof(args) = 'array'),
    env             jsonb NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(env) = 'object'),
    working_dir     text,
    target_host     text,
    host            text,
    labels          jsonb NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(labels) = 'object'),
    cpus            double precision CHECK (cpus IS NULL OR cpus > 0),
    memory_bytes    bigint CHECK (memory_bytes IS NULL OR memory_bytes > 0),
    timeout_seconds integer CHECK (timeout_seconds IS NULL OR timeout_seconds > 0),
    priority        integer NOT NULL DEFAULT 0,
    state           text NOT NULL CHECK (state IN ('queued', 'scheduled', 'starting', 'running',
                        'succeeded', 'failed', 'timed_out', 'cancelled', 'lost')),
    state_reason    text,
    exit_code       integer,
    error_code      text,
    error_message   text,
    attempts        integer NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    -- Last log chunk sequence number; bumped under the row lock, so seq is gapless and commit-ordered.
    log_seq         bigint NOT NULL DEFAULT 0,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    started_at      timestamptz,
    finished_at     timestamptz
);

-- Listings: newest first, paged by (created_at, id).
CREATE INDEX executions_created_idx ON executions (created_at DESC, id DESC);
CREATE INDEX executions_state_idx ON executions (state, created_at DESC, id DESC);
CREATE INDEX executions_owner_idx ON executions (owner, created_at DESC, id DESC);
CREATE INDEX executions_host_idx ON executions ((COALESCE(host, target_host)), created_at DESC, id DESC);
CREATE INDEX executions_name_idx ON executions (name, created_at DESC, id DESC) WHERE name IS NOT NULL;
CREATE INDEX executions_labels_idx ON executions USING gin (labels jsonb_path_ops);
-- The scheduler's queue, in claim order.
CREATE INDEX executions_queue_idx ON executions (priority DESC, created_at, id) WHERE state = 'queued';

-- Terminal states never change, whoever writes the row.
CREATE FUNCTION berth_executions_terminal_guard() RETURNS trigger
    LANGUAGE plpgsql AS $$
BEGIN
    IF OLD.state IN ('succeeded', 'failed', 'timed_out', 'cancelled', 'lost') AND NEW.state <> OLD.state THEN
        RAISE EXCEPTION 'execution % is % and cannot change to %', OLD.id, OLD.state, NEW.state
            USING ERRCODE = 'check_violation';
    END IF;
    RETURN NEW;
END
$$;

CREATE TRIGGER executions_terminal_guard
    BEFORE UPDATE OF state ON executions
    FOR EACH ROW EXECUTE FUNCTION berth_executions_terminal_guard();

CREATE TABLE execution_events (
    seq          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    execution_id uuid NOT NULL REFERENCES executions (id) ON DELETE CASCADE,
    from_state   text CHECK (from_state IN ('queued', 'scheduled', 'starting', 'running',
                     'succeeded', 'failed', 'timed_out', 'cancelled', 'lost')),
    to_state     text NOT NULL CHECK (to_state IN ('queued', 'scheduled', 'starting', 'running',
                     'succeeded', 'failed', 'timed_out', 'cancelled', 'lost')),
    reason       text NOT NULL,
    attempt      integer,
    at           timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX execution_events_execution_idx ON execution_events (execution_id, seq);

CREATE TABLE attempts (
    execution_id   uuid NOT NULL REFERENCES executions (id) ON DELETE CASCADE,
    number         integer NOT NULL CHECK (number >= 1),
    host           text NOT NULL,
    -- The engine's handle, byte for byte as the plugin returned it; must be valid JSON.
    runtime_handle text NOT NULL CHECK (runtime_handle::jsonb IS NOT NULL),
    started_at     timestamptz NOT NULL DEFAULT now(),
    finished_at    timestamptz,
    PRIMARY KEY (execution_id, number)
);

CREATE INDEX attempts_unfinished_idx ON attempts (host) WHERE finished_at IS NULL;

CREATE TABLE log_chunks (
    execution_id uuid NOT NULL REFERENCES executions (id) ON DELETE CASCADE,
    seq          bigint NOT NULL CHECK (seq >= 1),
    attempt      integer NOT NULL,
    stream       text NOT NULL CHECK (stream IN ('stdout', 'stderr')),
    data         bytea NOT NULL,
    at           timestamptz NOT NULL,
    PRIMARY KEY (execution_id, seq)
);

CREATE INDEX log_chunks_time_idx ON log_chunks (execution_id, at);

CREATE TABLE hosts (
    name         text PRIMARY KEY,
    plugin       text NOT NULL,
    labels       jsonb NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(labels) = 'object'),
    capacity     integer CHECK (capacity IS NULL OR capacity >= 0),
    status       text NOT NULL,
    last_seen_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE api_tokens (
    id           uuid PRIMARY KEY,
    name         text NOT NULL,
    owner        text NOT NULL,
    -- SHA-256 of the secret, hex; the secret itself is never stored.
    token_hash   text NOT NULL UNIQUE,
    scopes       jsonb NOT NULL DEFAULT '[]' CHECK (jsonb_typeof(scopes) = 'array'),
    created_at   timestamptz NOT NULL DEFAULT now(),
    last_used_at timestamptz,
    expires_at   timestamptz,
    revoked_at   timestamptz
);

CREATE INDEX api_tokens_owner_idx ON api_tokens (owner);
