-- +goose Up
-- Webhooks (issue 17.3): admins subscribe URLs to events; each delivery attempt is logged.

-- A subscription. The signing secret ("whsec_" + base64 of 32 random bytes, Standard Webhooks)
-- is stored sealed (AES-256-GCM under a key derived from PORTICO_SECRET_KEY, bound to the
-- row's id) so deliveries can be signed; it is shown once, when created or rotated.
CREATE TABLE webhooks (
    id                  bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    url                 text NOT NULL CHECK (length(url) BETWEEN 1 AND 2000),
    description         text NOT NULL DEFAULT '' CHECK (length(description) <= 200),
    events              text[] NOT NULL CHECK (cardinality(events) > 0),
    enabled             boolean NOT NULL DEFAULT true,
    secret_sealed       bytea,
    -- The first characters of the secret ("whsec_" included), so a person can tell secrets apart.
    secret_hint         text NOT NULL DEFAULT '',
    created_by_staff_id bigint REFERENCES staff_users (id) ON DELETE SET NULL,
    created_at          timestamptz NOT NULL DEFAULT now(),
    updated_at          timestamptz NOT NULL DEFAULT now()
);

-- One delivery attempt: the HTTP status (NULL: no answer, error says why), its duration, and
-- the outcome: delivered, retrying (another attempt follows) or failed (given up).
CREATE TABLE webhook_deliveries (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    webhook_id  bigint NOT NULL REFERENCES webhooks (id) ON DELETE CASCADE,
    message_id  text NOT NULL,
    event       text NOT NULL,
    attempt     integer NOT NULL,
    status      integer,
    error       text NOT NULL DEFAULT '',
    duration_ms integer NOT NULL DEFAULT 0,
    outcome     text NOT NULL CHECK (outcome IN ('delivered', 'retrying', 'failed')),
    created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX webhook_deliveries_webhook_idx ON webhook_deliveries (webhook_id, created_at DESC, id DESC);
CREATE INDEX webhook_deliveries_created_idx ON webhook_deliveries (created_at);

-- +goose Down
SELECT 1;
