-- +goose Up
-- Satisfaction (issue 16.4): one good/bad vote, with an optional comment, per close of a ticket
-- (closed_at names the close), from the portal or a signed link in the closing mail. The
-- ticket's inbox and owner are copied at voting time for the admins' report.
CREATE TABLE ticket_ratings (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    ticket_id   bigint NOT NULL REFERENCES tickets (id) ON DELETE CASCADE,
    closed_at   timestamptz NOT NULL,
    contact_id  bigint REFERENCES contacts (id) ON DELETE SET NULL,
    score       text NOT NULL CHECK (score IN ('good', 'bad')),
    comment     text NOT NULL DEFAULT '',
    inbox_id    bigint REFERENCES inboxes (id) ON DELETE SET NULL,
    owner_id    bigint REFERENCES staff_users (id) ON DELETE SET NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    UNIQUE (ticket_id, closed_at)
);
CREATE INDEX ticket_ratings_created_idx ON ticket_ratings (created_at);

-- +goose Down
SELECT 1;
