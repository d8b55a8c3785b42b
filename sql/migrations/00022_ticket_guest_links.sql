-- +goose Up
-- Guest links (issue 16.3): a link in a ticket's notification mail that opens that one ticket
-- for its recipient without an account (read and reply, nothing else). Only the SHA-256 of the
-- 256-bit random token is stored. A link works until expires_at unless revoked_at is set: by an
-- agent ("Revoke guest links"), or by the triggers below the moment the recipient loses access
-- (removed as a participant, portal account disabled). Deleting the ticket or the contact
-- deletes its links.
CREATE TABLE ticket_guest_links (
    id                   bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    ticket_id            bigint NOT NULL REFERENCES tickets (id) ON DELETE CASCADE,
    contact_id           bigint NOT NULL REFERENCES contacts (id) ON DELETE CASCADE,
    token_hash           bytea NOT NULL UNIQUE CHECK (length(token_hash) = 32),
    created_at           timestamptz NOT NULL DEFAULT now(),
    expires_at           timestamptz NOT NULL,
    revoked_at           timestamptz,
    revoked_by_staff_id  bigint REFERENCES staff_users (id) ON DELETE SET NULL,
    last_used_at         timestamptz
);
-- The inbox's count and revocation of a ticket's live links; the per-contact revocations.
CREATE INDEX ticket_guest_links_ticket_idx ON ticket_guest_links (ticket_id) WHERE revoked_at IS NULL;
CREATE INDEX ticket_guest_links_contact_idx ON ticket_guest_links (contact_id) WHERE revoked_at IS NULL;

-- +goose StatementBegin
CREATE FUNCTION portico_guest_links_participant_removed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE ticket_guest_links SET revoked_at = now()
    WHERE ticket_id = OLD.ticket_id AND contact_id = OLD.contact_id AND revoked_at IS NULL;
    RETURN NULL;
END
$$;
-- +goose StatementEnd
CREATE TRIGGER ticket_participants_revoke_guest_links AFTER DELETE ON ticket_participants
    FOR EACH ROW EXECUTE FUNCTION portico_guest_links_participant_removed();

-- +goose StatementBegin
CREATE FUNCTION portico_guest_links_account_disabled() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE ticket_guest_links SET revoked_at = now()
    WHERE contact_id = NEW.contact_id AND revoked_at IS NULL;
    RETURN NULL;
END
$$;
-- +goose StatementEnd
CREATE TRIGGER portal_accounts_revoke_guest_links AFTER INSERT OR UPDATE OF status ON portal_accounts
    FOR EACH ROW WHEN (NEW.status = 'disabled') EXECUTE FUNCTION portico_guest_links_account_disabled();

-- +goose Down
SELECT 1;
