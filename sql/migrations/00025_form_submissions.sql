-- +goose Up
-- One ticket per filled-in support form: the form carries a random submission key, and a second
-- POST of the same form (a double click, a retried upload, Back and Send again) answers with the
-- ticket the first one created instead of opening another (newcomer trial of round 2).
CREATE TABLE form_submissions (
    contact_id bigint NOT NULL REFERENCES contacts (id) ON DELETE CASCADE,
    key        text NOT NULL CHECK (key ~ '^[0-9a-f]{32}$'),
    ticket_id  bigint NOT NULL REFERENCES tickets (id) ON DELETE CASCADE,
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (contact_id, key)
);
CREATE INDEX form_submissions_ticket_idx ON form_submissions (ticket_id);

-- +goose Down
DROP TABLE form_submissions;
