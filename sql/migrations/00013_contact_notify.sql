-- +goose Up
-- Every change to a contact or a company is announced on the channel portico_contact_changed
-- (issue 18), so that each instance's in-process contact cache drops what it holds, whichever
-- code (or psql session) made the change: the payload is the contact's id, or '*' for a
-- company change (company names are part of the cached contact). Inserts need no notice: a
-- new contact was never cached.
-- +goose StatementBegin
CREATE FUNCTION portico_notify_contact_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_LEVEL = 'ROW' THEN
        PERFORM pg_notify('portico_contact_changed', OLD.id::text);
    ELSE
        PERFORM pg_notify('portico_contact_changed', '*');
    END IF;
    RETURN NULL;
END
$$;
-- +goose StatementEnd
CREATE TRIGGER contacts_notify_changed AFTER UPDATE OR DELETE ON contacts
    FOR EACH ROW EXECUTE FUNCTION portico_notify_contact_changed();
CREATE TRIGGER companies_notify_changed AFTER UPDATE OR DELETE OR TRUNCATE ON companies
    FOR EACH STATEMENT EXECUTE FUNCTION portico_notify_contact_changed();
CREATE TRIGGER contacts_notify_truncated AFTER TRUNCATE ON contacts
    FOR EACH STATEMENT EXECUTE FUNCTION portico_notify_contact_changed();
