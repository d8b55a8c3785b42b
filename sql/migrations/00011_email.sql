-- +goose Up
-- The email channel (issue 13): each inbox's mail settings, every inbound mail stored raw
-- first (blob + row + job in one transaction), threading ids on messages, bounces on contacts.

-- An inbox's email address and, optionally, the IMAP mailbox Portico fetches it from.
CREATE TABLE inbox_email (
    inbox_id            bigint PRIMARY KEY REFERENCES inboxes (id) ON DELETE CASCADE,
    -- The address customers write to (support@example.com); replies go out from it and carry
    -- a plus-addressed reply token (support+t12.abc@example.com).
    address             text NOT NULL,
    display_name        text NOT NULL DEFAULT '',
    -- Whether mail from an unknown sender creates a contact (else it is held for an agent).
    allow_new_contacts  boolean NOT NULL DEFAULT true,
    imap_enabled        boolean NOT NULL DEFAULT false,
    imap_host           text NOT NULL DEFAULT '',
    imap_port           int NOT NULL DEFAULT 993 CHECK (imap_port BETWEEN 1 AND 65535),
    imap_security       text NOT NULL DEFAULT 'tls' CHECK (imap_security IN ('tls', 'starttls', 'none')),
    imap_user           text NOT NULL DEFAULT '',
    -- The IMAP password, sealed like identity-provider secrets (AES-256-GCM, HKDF key).
    imap_secret         bytea,
    imap_folder         text NOT NULL DEFAULT 'INBOX',
    -- Where a fetched mail goes once stored ('' = flag it \Seen and \Flagged… kept in place).
    imap_move_to        text NOT NULL DEFAULT '',
    updated_at          timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX inbox_email_address_key ON inbox_email (lower(address));

-- Every inbound mail, stored before anything else is done with it.
CREATE TABLE inbound_mails (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    -- 'mid:' + Message-ID, else 'sha256:' + hash of the raw bytes: a retry adds nothing twice.
    dedup_key       text NOT NULL UNIQUE,
    message_id      text NOT NULL DEFAULT '',
    inbox_id        bigint REFERENCES inboxes (id) ON DELETE SET NULL,
    source          text NOT NULL CHECK (source IN ('lmtp', 'smtp', 'imap', 'stdin', 'import')),
    recipient       text NOT NULL DEFAULT '',
    sender          text NOT NULL DEFAULT '',
    subject         text NOT NULL DEFAULT '',
    size_bytes      bigint NOT NULL,
    sha256          text NOT NULL,
    blob_key        text NOT NULL,
    status          text NOT NULL DEFAULT 'received'
                    CHECK (status IN ('received', 'processed', 'held', 'failed', 'ignored', 'discarded')),
    -- Why a mail was held, failed or ignored: a stable code (see store.Inbound… constants).
    reason          text NOT NULL DEFAULT '',
    detail          text NOT NULL DEFAULT '',
    ticket_id       bigint REFERENCES tickets (id) ON DELETE SET NULL,
    received_at     timestamptz NOT NULL DEFAULT now(),
    processed_at    timestamptz
);
CREATE INDEX inbound_mails_status_idx ON inbound_mails (status, received_at DESC) WHERE status IN ('held', 'failed', 'ignored');
CREATE INDEX inbound_mails_sender_idx ON inbound_mails (lower(sender), received_at DESC);

-- Threading: the RFC 5322 Message-ID of the mail a message came in as or went out as.
ALTER TABLE messages ADD COLUMN email_message_id text;
ALTER TABLE messages ADD COLUMN inbound_mail_id bigint REFERENCES inbound_mails (id) ON DELETE SET NULL;
-- The sender's address as written in the mail, and the sanitised HTML kept for display.
ALTER TABLE messages ADD COLUMN email_from text;
ALTER TABLE messages ADD COLUMN body_html text;
CREATE INDEX messages_email_message_id_idx ON messages (email_message_id) WHERE email_message_id IS NOT NULL;
CREATE UNIQUE INDEX messages_inbound_mail_key ON messages (inbound_mail_id) WHERE inbound_mail_id IS NOT NULL;

-- Bounces (DSN): counted on the contact; the address is undeliverable after repeated hard ones.
ALTER TABLE contacts ADD COLUMN hard_bounces int NOT NULL DEFAULT 0;
ALTER TABLE contacts ADD COLUMN last_bounce_at timestamptz;
ALTER TABLE contacts ADD COLUMN last_bounce_reason text NOT NULL DEFAULT '';
ALTER TABLE contacts ADD COLUMN undeliverable boolean NOT NULL DEFAULT false;

-- +goose Down
SELECT 1;
