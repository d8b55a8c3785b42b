-- +goose Up
-- Participants (issue 16.1): people besides the requester who see a ticket (CC). Added by an
-- agent, by the requester in the portal ("Share with"), or from a mail's Cc. A participant
-- reaches the ticket through the one Viewer predicate (sql/store/viewer.go); deleting the row
-- ends that access at once.
CREATE TABLE ticket_participants (
    ticket_id            bigint NOT NULL REFERENCES tickets (id) ON DELETE CASCADE,
    contact_id           bigint NOT NULL REFERENCES contacts (id) ON DELETE CASCADE,
    -- Who added them: an agent, the requester in the portal, or a mail's Cc.
    added_via            text NOT NULL CHECK (added_via IN ('agent', 'portal', 'email')),
    added_by_contact_id  bigint REFERENCES contacts (id) ON DELETE SET NULL,
    added_by_staff_id    bigint REFERENCES staff_users (id) ON DELETE SET NULL,
    created_at           timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (ticket_id, contact_id)
);
-- "Shared with me": a contact's tickets.
CREATE INDEX ticket_participants_contact_idx ON ticket_participants (contact_id, ticket_id);

-- +goose Down
SELECT 1;
