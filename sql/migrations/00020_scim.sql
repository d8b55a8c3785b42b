-- +goose Up
-- SCIM 2.0 provisioning (issue 17.4, RFC 7643/7644): an identity provider (Okta, Microsoft
-- Entra…) creates, changes and deactivates contacts and access groups with a bearer token of
-- its own. A provider sees and changes only the contacts and groups it provisions.

-- A provider's SCIM bearer token. Only the SHA-256 of the token is stored; the token itself is
-- shown once, in the provider's SCIM page of the admin console.
CREATE TABLE scim_tokens (
    id                  bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    provider_id         bigint NOT NULL REFERENCES identity_providers (id) ON DELETE CASCADE,
    name                text NOT NULL CHECK (length(name) BETWEEN 1 AND 100),
    token_hash          bytea NOT NULL UNIQUE CHECK (octet_length(token_hash) = 32),
    hint                text NOT NULL,
    created_by_staff_id bigint REFERENCES staff_users (id) ON DELETE SET NULL,
    created_at          timestamptz NOT NULL DEFAULT now(),
    expires_at          timestamptz,
    last_used_at        timestamptz,
    revoked_at          timestamptz
);
CREATE INDEX scim_tokens_provider_idx ON scim_tokens (provider_id, created_at DESC);

-- A contact provisioned by a provider (the SCIM User resource; its id is the contact's id).
-- A contact is provisioned by at most one provider. user_name is the IdP's userName (unique per
-- provider, case-insensitive); the contact's email is the user's work or primary address.
-- active = false: the portal account is disabled (prior_status remembers what it was: '' when
-- the contact had no account), sessions were ended; tickets are never touched.
CREATE TABLE scim_users (
    contact_id    bigint PRIMARY KEY REFERENCES contacts (id) ON DELETE CASCADE,
    provider_id   bigint NOT NULL REFERENCES identity_providers (id) ON DELETE CASCADE,
    user_name     text NOT NULL,
    external_id   text,
    given_name    text NOT NULL DEFAULT '',
    family_name   text NOT NULL DEFAULT '',
    active        boolean NOT NULL DEFAULT true,
    prior_status  text,
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX scim_users_user_name_key ON scim_users (provider_id, lower(user_name));
CREATE INDEX scim_users_external_idx ON scim_users (provider_id, external_id);

-- An access group provisioned by a provider (the SCIM Group resource; its id is the group's
-- id). created = false: the group existed before and was taken over by name; deleting it over
-- SCIM then only lets go of it instead of deleting the access group.
CREATE TABLE scim_groups (
    group_id     bigint PRIMARY KEY REFERENCES access_groups (id) ON DELETE CASCADE,
    provider_id  bigint NOT NULL REFERENCES identity_providers (id) ON DELETE CASCADE,
    external_id  text,
    created      boolean NOT NULL DEFAULT true,
    created_at   timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX scim_groups_provider_idx ON scim_groups (provider_id);

-- +goose Down
SELECT 1;
