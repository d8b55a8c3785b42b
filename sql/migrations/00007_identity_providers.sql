-- +goose Up
-- Single sign-on (issue 5): the identity-provider registry and the links from a provider's
-- subject to a contact. Secrets (client secrets, JWT shared secrets, SAML SP private keys)
-- are stored encrypted (AES-256-GCM, key derived from PORTICO_SECRET_KEY); settings hold the
-- rest as JSON.
CREATE TABLE identity_providers (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    slug         text NOT NULL UNIQUE CHECK (slug ~ '^[a-z0-9][a-z0-9-]{0,39}$'),
    kind         text NOT NULL CHECK (kind IN ('google', 'microsoft', 'okta', 'oidc', 'saml', 'jwt')),
    name         text NOT NULL,
    enabled      boolean NOT NULL DEFAULT false,
    settings     jsonb NOT NULL DEFAULT '{}',
    secrets      bytea,
    -- Who may sign in: every SSO user, or only contacts in the listed access groups.
    audience     text NOT NULL DEFAULT 'all' CHECK (audience IN ('all', 'groups')),
    groups       text[] NOT NULL DEFAULT '{}',
    -- Whether a first sign-in may create the contact (and its company).
    allow_create boolean NOT NULL DEFAULT true,
    created_at   timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now()
);

-- A contact's identity at one provider: keyed by (provider, subject), never by email alone.
CREATE TABLE contact_identities (
    provider_id     bigint NOT NULL REFERENCES identity_providers (id) ON DELETE CASCADE,
    subject         text NOT NULL,
    contact_id      bigint NOT NULL REFERENCES contacts (id) ON DELETE CASCADE,
    email           text NOT NULL DEFAULT '',
    created_at      timestamptz NOT NULL DEFAULT now(),
    last_sign_in_at timestamptz,
    PRIMARY KEY (provider_id, subject)
);
CREATE INDEX contact_identities_contact_idx ON contact_identities (contact_id);

-- +goose Down
-- Forward-only: Portico never migrates down.
SELECT 1;
