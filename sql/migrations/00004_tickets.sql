-- +goose Up
-- Ticket actions: the closed stage a pipeline uses when a customer closes a ticket from the portal.
ALTER TABLE pipelines ADD COLUMN closed_stage_id bigint REFERENCES stages (id) ON DELETE SET NULL;
CREATE INDEX attachments_ticket_idx ON attachments (ticket_id);
-- Sorting the customer listing by create date keeps keyset pages index-backed, like activity.
CREATE INDEX tickets_requester_created_idx ON tickets (requester_id, created_at DESC, id DESC);
CREATE INDEX tickets_company_created_idx ON tickets (company_id, created_at DESC, id DESC);

-- +goose Down
SELECT 1;
