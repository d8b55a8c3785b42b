-- +goose Up
-- Customers' own data (issue 16.6, GDPR articles 15, 17 and 20): exports a customer asks for
-- from the account page (built by a background job into a zip in the blob store, downloadable
-- until expires_at), requests to be deleted, and the mark of an erased contact.

-- An erased contact keeps its row (tickets the company must keep still point at it) but
-- nothing that names it: the address becomes deleted-<id>@erased.invalid, the name empty.
ALTER TABLE contacts ADD COLUMN erased_at timestamptz;

-- One export of a contact's data. The job moves it queued → running → ready (or failed),
-- counting items_done of items_total on the way; the zip lives under blob_key until
-- expires_at, when the hourly purge deletes the blob and the row.
CREATE TABLE contact_exports (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    contact_id   bigint NOT NULL REFERENCES contacts (id) ON DELETE CASCADE,
    status       text NOT NULL DEFAULT 'queued' CHECK (status IN ('queued', 'running', 'ready', 'failed')),
    items_done   int NOT NULL DEFAULT 0,
    items_total  int NOT NULL DEFAULT 0,
    blob_key     text NOT NULL DEFAULT '',
    size_bytes   bigint NOT NULL DEFAULT 0,
    sha256       text NOT NULL DEFAULT '',
    created_at   timestamptz NOT NULL DEFAULT now(),
    finished_at  timestamptz,
    expires_at   timestamptz NOT NULL
);
CREATE INDEX contact_exports_contact_idx ON contact_exports (contact_id, created_at DESC, id DESC);
CREATE INDEX contact_exports_expires_idx ON contact_exports (expires_at);
-- At most one export in the works per contact.
CREATE UNIQUE INDEX contact_exports_pending_key ON contact_exports (contact_id) WHERE status IN ('queued', 'running');

-- A customer's request to be deleted, open until an admin erases the contact (the request
-- goes with the contact's data) or the customer withdraws it.
CREATE TABLE contact_erasure_requests (
    contact_id    bigint PRIMARY KEY REFERENCES contacts (id) ON DELETE CASCADE,
    requested_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX contact_erasure_requests_at_idx ON contact_erasure_requests (requested_at);

-- +goose Down
SELECT 1;
