-- +goose Up
-- Each instance keeps in memory which event types have an enabled webhook (issue 18: a ticket
-- change nobody listens to costs no query). Every change to webhooks, whoever made it, is
-- announced on the channel of migration 00013 with the payload 'w', so each instance forgets
-- what it kept.
-- +goose StatementBegin
CREATE FUNCTION portico_notify_webhooks_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('portico_contact_changed', 'w');
    RETURN NULL;
END
$$;
-- +goose StatementEnd
CREATE TRIGGER webhooks_notify_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON webhooks
    FOR EACH STATEMENT EXECUTE FUNCTION portico_notify_webhooks_changed();

-- +goose Down
DROP TRIGGER webhooks_notify_changed ON webhooks;
DROP FUNCTION portico_notify_webhooks_changed();
