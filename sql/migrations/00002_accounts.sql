-- +goose Up
-- Getting in (issue 3): one-time links (registration, email verification, password reset,
-- passwordless sign-in), consents to process, and the first-start record of the portal switch.

-- One-time link tokens. Only the SHA-256 of the random token is stored; a token is used once
-- (used_at) and only before expires_at. contact_id is NULL for a self-registration whose
-- address is not yet a contact; payload carries what the link completes (pending name,
-- password hash, consent text, language).
CREATE TABLE account_tokens (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    token_hash  bytea NOT NULL UNIQUE,
    purpose     text NOT NULL CHECK (purpose IN ('invite', 'verify', 'reset', 'magic')),
    contact_id  bigint REFERENCES contacts (id) ON DELETE CASCADE,
    email       text NOT NULL,
    payload     jsonb NOT NULL DEFAULT '{}',
    created_at  timestamptz NOT NULL DEFAULT now(),
    expires_at  timestamptz NOT NULL,
    used_at     timestamptz
);
CREATE INDEX account_tokens_contact_idx ON account_tokens (contact_id, purpose);
CREATE INDEX account_tokens_expires_idx ON account_tokens (expires_at);

-- Consent to process, given at self-registration: the exact text shown and when.
CREATE TABLE contact_consents (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    contact_id    bigint NOT NULL REFERENCES contacts (id) ON DELETE CASCADE,
    consent_text  text NOT NULL,
    text_sha256   text NOT NULL,
    given_at      timestamptz NOT NULL
);
CREATE INDEX contact_consents_contact_idx ON contact_consents (contact_id);

-- +goose Down
-- Forward-only: Portico never migrates down.
SELECT 1;
