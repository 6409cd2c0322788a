-- Berth schema, version 7: webhooks (issue 8).
-- An execution may name a URL to call when it ends. The delivery is written in the same
-- transaction as the terminal transition (an outbox), so it is never lost; any server sends
-- it (claimed with SKIP LOCKED), retrying with backoff until it succeeds or gives up.

ALTER TABLE executions ADD COLUMN webhook_url text;

CREATE TABLE webhook_deliveries (
    id            uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    execution_id  uuid NOT NULL REFERENCES executions (id) ON DELETE CASCADE,
    url           text NOT NULL,
    attempts      integer NOT NULL DEFAULT 0,
    next_at       timestamptz NOT NULL DEFAULT now(),
    delivered_at  timestamptz,
    failed_at     timestamptz,
    last_error    text,
    created_at    timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX webhook_deliveries_due_idx ON webhook_deliveries (next_at) WHERE delivered_at IS NULL AND failed_at IS NULL;
