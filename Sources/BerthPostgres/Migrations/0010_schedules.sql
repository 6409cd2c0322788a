-- Berth schema, version 10: schedules (issue 12).
-- A schedule runs a template at the times its cron expression names in its time zone.
-- next_due_at is the next time to handle; the scheduling leader moves it forward only with a
-- compare-and-set on its old value. Each handled due time gets one schedule_runs row (its
-- primary key is the schedule and the due time): the first decision written holds, and an
-- execution made for it has an id derived from both, so a due time is run at most once even
-- when two servers handle it (a failover in the middle of a pass).

CREATE TABLE schedules (
    id                 uuid PRIMARY KEY,
    name               text NOT NULL UNIQUE,
    cron               text NOT NULL,
    time_zone          text NOT NULL,
    template           text NOT NULL,
    parameters         text NOT NULL,  -- JSON text (as given: jsonb refuses \u0000)
    run                text NOT NULL,  -- JSON text: further submission fields of each run
    concurrency_policy text NOT NULL CHECK (concurrency_policy IN ('allow', 'forbid', 'replace')),
    catch_up           text NOT NULL CHECK (catch_up IN ('none', 'latest', 'all')),
    paused             boolean NOT NULL DEFAULT false,
    owner              text NOT NULL,
    created_at         timestamptz NOT NULL DEFAULT now(),
    next_due_at        timestamptz,
    last_due_at        timestamptz
);

CREATE INDEX schedules_due ON schedules (next_due_at) WHERE NOT paused AND next_due_at IS NOT NULL;

CREATE TABLE schedule_runs (
    schedule_id  uuid NOT NULL REFERENCES schedules (id) ON DELETE CASCADE,
    due_at       timestamptz NOT NULL,
    outcome      text NOT NULL CHECK (outcome IN ('created', 'skipped', 'missed', 'failed')),
    execution_id uuid,
    detail       text,
    recorded_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (schedule_id, due_at)
);

-- Which schedule and due time an execution was made for (the schedule may be deleted later).
ALTER TABLE executions
    ADD COLUMN schedule_id uuid, ADD COLUMN schedule_name text, ADD COLUMN scheduled_for timestamptz;

CREATE INDEX executions_active_by_schedule ON executions (schedule_id)
    WHERE schedule_id IS NOT NULL AND state NOT IN ('succeeded', 'failed', 'cancelled', 'timed_out', 'lost');
