-- Berth schema, version 9: host selection by labels (issue 12).
-- An execution may ask for any host whose labels include these instead of naming one; the
-- scheduler picks among the matching healthy hosts the one with the most free capacity.

ALTER TABLE executions ADD COLUMN host_selector jsonb NOT NULL DEFAULT '{}';
