-- +goose Up
-- Portico's core schema: CRM records (companies, contacts, access groups), the ticket model
-- (pipelines, stages, inboxes, tickets, conversations, messages, attachments), staff, portal
-- settings and contact timelines. Times are timestamptz (UTC).

CREATE EXTENSION IF NOT EXISTS pg_trgm;

CREATE TABLE companies (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name        text NOT NULL,
    domain      text,
    created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX companies_name_key ON companies (lower(name));

CREATE TABLE contacts (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    email       text NOT NULL,
    name        text NOT NULL DEFAULT '',
    company_id  bigint REFERENCES companies (id) ON DELETE SET NULL,
    language    text NOT NULL DEFAULT '',
    created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX contacts_email_key ON contacts (lower(email));
CREATE INDEX contacts_company_idx ON contacts (company_id);

-- A contact's portal account: the credentials that let a contact sign in.
CREATE TABLE portal_accounts (
    contact_id     bigint PRIMARY KEY REFERENCES contacts (id) ON DELETE CASCADE,
    password_hash  text,
    status         text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'invited', 'disabled')),
    created_at     timestamptz NOT NULL DEFAULT now(),
    updated_at     timestamptz NOT NULL DEFAULT now(),
    last_sign_in_at timestamptz
);

-- Lists of contacts; the portal calls them access groups.
CREATE TABLE access_groups (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name        text NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX access_groups_name_key ON access_groups (lower(name));

CREATE TABLE access_group_members (
    group_id    bigint NOT NULL REFERENCES access_groups (id) ON DELETE CASCADE,
    contact_id  bigint NOT NULL REFERENCES contacts (id) ON DELETE CASCADE,
    added_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (group_id, contact_id)
);
CREATE INDEX access_group_members_contact_idx ON access_group_members (contact_id);

CREATE TABLE staff_users (
    id             bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    email          text NOT NULL,
    name           text NOT NULL DEFAULT '',
    role           text NOT NULL CHECK (role IN ('admin', 'agent')),
    password_hash  text,
    status         text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'disabled')),
    created_at     timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX staff_users_email_key ON staff_users (lower(email));

CREATE TABLE pipelines (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name        text NOT NULL,
    position    int NOT NULL DEFAULT 0,
    created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX pipelines_name_key ON pipelines (lower(name));

CREATE TABLE stages (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    pipeline_id  bigint NOT NULL REFERENCES pipelines (id) ON DELETE CASCADE,
    name         text NOT NULL,
    position     int NOT NULL DEFAULT 0,
    is_closed    boolean NOT NULL DEFAULT false
);
CREATE UNIQUE INDEX stages_pipeline_name_key ON stages (pipeline_id, lower(name));

CREATE TABLE inboxes (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name        text NOT NULL,
    is_default  boolean NOT NULL DEFAULT false,
    created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX inboxes_name_key ON inboxes (lower(name));
-- At most one default inbox.
CREATE UNIQUE INDEX inboxes_one_default ON inboxes (is_default) WHERE is_default;

CREATE TABLE tickets (
    id                bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    subject           text NOT NULL,
    description       text NOT NULL DEFAULT '',
    pipeline_id       bigint NOT NULL REFERENCES pipelines (id),
    stage_id          bigint NOT NULL REFERENCES stages (id),
    priority          text NOT NULL DEFAULT '',
    category          text NOT NULL DEFAULT '',
    channel           text NOT NULL DEFAULT 'portal',
    language          text NOT NULL DEFAULT '',
    tags              text[] NOT NULL DEFAULT '{}',
    properties        jsonb NOT NULL DEFAULT '{}',
    requester_id      bigint REFERENCES contacts (id) ON DELETE SET NULL,
    company_id        bigint REFERENCES companies (id) ON DELETE SET NULL,
    owner_id          bigint REFERENCES staff_users (id) ON DELETE SET NULL,
    -- Denormalised from stages.is_closed so list filters need no join (kept by the store).
    is_closed         boolean NOT NULL DEFAULT false,
    created_at        timestamptz NOT NULL DEFAULT now(),
    last_activity_at  timestamptz NOT NULL DEFAULT now(),
    closed_at         timestamptz,
    -- Idempotent import: a stable fingerprint of the source row.
    import_key        text UNIQUE
);
-- Hot paths: the customer listing by requester and by company, newest activity first, keyset.
CREATE INDEX tickets_requester_activity_idx ON tickets (requester_id, last_activity_at DESC, id DESC);
CREATE INDEX tickets_company_activity_idx ON tickets (company_id, last_activity_at DESC, id DESC);
CREATE INDEX tickets_subject_trgm_idx ON tickets USING gin (subject gin_trgm_ops);

CREATE TABLE conversations (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    ticket_id   bigint NOT NULL REFERENCES tickets (id) ON DELETE CASCADE,
    inbox_id    bigint NOT NULL REFERENCES inboxes (id),
    channel     text NOT NULL DEFAULT 'portal'
                CHECK (channel IN ('email', 'chat', 'messenger', 'form', 'portal', 'phone')),
    created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX conversations_ticket_idx ON conversations (ticket_id, created_at, id);

CREATE TABLE messages (
    id               bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    conversation_id  bigint NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
    ticket_id        bigint NOT NULL REFERENCES tickets (id) ON DELETE CASCADE,
    kind             text NOT NULL CHECK (kind IN ('public', 'internal_note')),
    author_contact_id bigint REFERENCES contacts (id) ON DELETE SET NULL,
    author_staff_id  bigint REFERENCES staff_users (id) ON DELETE SET NULL,
    body             text NOT NULL,
    created_at       timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX messages_conversation_idx ON messages (conversation_id, created_at, id);
CREATE INDEX messages_ticket_idx ON messages (ticket_id);
CREATE INDEX messages_body_trgm_idx ON messages USING gin (body gin_trgm_ops) WHERE kind = 'public';

CREATE TABLE attachments (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    message_id  bigint NOT NULL REFERENCES messages (id) ON DELETE CASCADE,
    ticket_id   bigint NOT NULL REFERENCES tickets (id) ON DELETE CASCADE,
    file_name   text NOT NULL,
    content_type text NOT NULL,
    size_bytes  bigint NOT NULL,
    sha256      text NOT NULL,
    blob_key    text NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX attachments_message_idx ON attachments (message_id);

-- Portal settings: one row per key, the value as JSON.
CREATE TABLE portal_settings (
    key         text PRIMARY KEY,
    value       jsonb NOT NULL,
    updated_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE timeline_events (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    contact_id  bigint NOT NULL REFERENCES contacts (id) ON DELETE CASCADE,
    kind        text NOT NULL,
    ticket_id   bigint REFERENCES tickets (id) ON DELETE CASCADE,
    message_id  bigint REFERENCES messages (id) ON DELETE CASCADE,
    summary     text NOT NULL DEFAULT '',
    created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX timeline_events_contact_idx ON timeline_events (contact_id, created_at DESC);

-- Seed rows every portal needs: the default pipeline with its stages and the default inbox.
INSERT INTO pipelines (name, position) VALUES ('Support', 0);
INSERT INTO stages (pipeline_id, name, position, is_closed)
SELECT p.id, s.name, s.position, s.is_closed
FROM pipelines p,
     (VALUES ('New', 0, false), ('Waiting on contact', 1, false), ('Waiting on us', 2, false), ('Closed', 3, true))
         AS s (name, position, is_closed)
WHERE p.name = 'Support';
INSERT INTO inboxes (name, is_default) VALUES ('Support', true);

-- +goose Down
-- Forward-only: Portico never migrates down.
SELECT 1;
