-- +goose Up
-- The JSON API (issue 17): personal access tokens of customers, API keys of the company's own
-- systems, and the idempotency keys of their creates.

-- A bearer token. Only the SHA-256 of the token is stored; the token itself is shown once.
-- A customer token (kind 'customer') acts as its contact, through the same Viewer as the portal;
-- an admin key (kind 'admin') acts for the company's systems within its scopes.
CREATE TABLE api_tokens (
    id                  bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    kind                text NOT NULL CHECK (kind IN ('customer', 'admin')),
    contact_id          bigint REFERENCES contacts (id) ON DELETE CASCADE,
    name                text NOT NULL CHECK (length(name) BETWEEN 1 AND 100),
    token_hash          bytea NOT NULL UNIQUE CHECK (octet_length(token_hash) = 32),
    -- The first characters of the token (prefix included), so a person can tell tokens apart.
    hint                text NOT NULL,
    scopes              text[] NOT NULL DEFAULT '{}',
    created_by_staff_id bigint REFERENCES staff_users (id) ON DELETE SET NULL,
    created_at          timestamptz NOT NULL DEFAULT now(),
    expires_at          timestamptz,
    last_used_at        timestamptz,
    revoked_at          timestamptz,
    CHECK ((kind = 'customer') = (contact_id IS NOT NULL))
);
CREATE INDEX api_tokens_contact_idx ON api_tokens (contact_id, created_at DESC) WHERE contact_id IS NOT NULL;

-- One Idempotency-Key of one token: the first request's fingerprint and, once answered, its
-- response, replayed to a retry (any instance). A row without a status is a request in flight.
CREATE TABLE api_idempotency_keys (
    token_id     bigint NOT NULL REFERENCES api_tokens (id) ON DELETE CASCADE,
    key          text NOT NULL,
    fingerprint  bytea NOT NULL,
    status       integer,
    body         bytea,
    location     text NOT NULL DEFAULT '',
    created_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (token_id, key)
);
CREATE INDEX api_idempotency_keys_created_idx ON api_idempotency_keys (created_at);
