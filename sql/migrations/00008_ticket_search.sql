-- +goose Up
-- Search within a customer's scope without scanning it: messages carry their ticket's requester
-- and company (kept by triggers), so trigram indexes can be combined with the scope column
-- (btree_gin) for subjects and public message bodies alike.
CREATE EXTENSION IF NOT EXISTS btree_gin;

ALTER TABLE messages ADD COLUMN requester_id bigint, ADD COLUMN company_id bigint;

UPDATE messages m SET requester_id = t.requester_id, company_id = t.company_id
FROM tickets t WHERE t.id = m.ticket_id AND (t.requester_id IS NOT NULL OR t.company_id IS NOT NULL);

-- +goose StatementBegin
CREATE FUNCTION messages_copy_ticket_scope() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.requester_id IS NULL AND NEW.company_id IS NULL THEN
        SELECT t.requester_id, t.company_id INTO NEW.requester_id, NEW.company_id
        FROM tickets t WHERE t.id = NEW.ticket_id;
    END IF;
    RETURN NEW;
END $$;
-- +goose StatementEnd
CREATE TRIGGER messages_copy_ticket_scope BEFORE INSERT ON messages
    FOR EACH ROW EXECUTE FUNCTION messages_copy_ticket_scope();

-- +goose StatementBegin
CREATE FUNCTION tickets_propagate_scope() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE messages SET requester_id = NEW.requester_id, company_id = NEW.company_id
    WHERE ticket_id = NEW.id;
    RETURN NULL;
END $$;
-- +goose StatementEnd
CREATE TRIGGER tickets_propagate_scope AFTER UPDATE OF requester_id, company_id ON tickets
    FOR EACH ROW WHEN (OLD.requester_id IS DISTINCT FROM NEW.requester_id OR OLD.company_id IS DISTINCT FROM NEW.company_id)
    EXECUTE FUNCTION tickets_propagate_scope();

CREATE INDEX messages_requester_body_trgm_idx ON messages USING gin (requester_id, body gin_trgm_ops) WHERE kind = 'public';
CREATE INDEX messages_company_body_trgm_idx ON messages USING gin (company_id, body gin_trgm_ops) WHERE kind = 'public';
CREATE INDEX tickets_requester_subject_trgm_idx ON tickets USING gin (requester_id, subject gin_trgm_ops);
CREATE INDEX tickets_company_subject_trgm_idx ON tickets USING gin (company_id, subject gin_trgm_ops);

-- +goose Down
SELECT 1;
