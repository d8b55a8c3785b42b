-- +goose Up
-- The staff side: the settings audit log, the branding logo, and the index behind the agent
-- inbox (every ticket, newest activity first, keyset).

CREATE TABLE audit_log (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    staff_id    bigint REFERENCES staff_users (id) ON DELETE SET NULL,
    -- Who, as they were named at the time (kept when the staff user is deleted).
    staff_name  text NOT NULL DEFAULT '',
    at          timestamptz NOT NULL DEFAULT now(),
    key         text NOT NULL,
    before      text NOT NULL DEFAULT '',
    after       text NOT NULL DEFAULT ''
);
CREATE INDEX audit_log_at_idx ON audit_log (at DESC, id DESC);
CREATE INDEX audit_log_key_idx ON audit_log (key, at DESC);
CREATE INDEX audit_log_staff_idx ON audit_log (staff_id, at DESC);

-- Branding images (one row per name, e.g. 'logo'); at most 512 KB each, PNG/JPEG/GIF/WebP.
CREATE TABLE branding_assets (
    name          text PRIMARY KEY,
    content_type  text NOT NULL,
    data          bytea NOT NULL CHECK (octet_length(data) <= 524288),
    sha256        text NOT NULL,
    updated_at    timestamptz NOT NULL DEFAULT now()
);

-- The agent inbox lists every ticket by last activity.
CREATE INDEX tickets_activity_idx ON tickets (last_activity_at DESC, id DESC);

-- +goose Down
-- Forward-only: Portico never migrates down.
SELECT 1;
