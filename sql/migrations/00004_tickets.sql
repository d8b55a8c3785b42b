-- +goose Up
-- Ticket actions: the closed stage a pipeline uses when a customer closes a ticket from the portal.
ALTER TABLE pipelines ADD COLUMN closed_stage_id bigint REFERENCES stages (id) ON DELETE SET NULL;
CREATE INDEX attachments_ticket_idx ON attachments (ticket_id);

-- +goose Down
SELECT 1;
