-- Berth schema, version 3: API tokens with roles (issue 7).
-- A token is a role and an owner; its secret is never stored, only its SHA-256.

ALTER TABLE api_tokens
    DROP COLUMN scopes,
    ADD COLUMN role text NOT NULL CHECK (role IN ('admin', 'submitter', 'viewer'));
