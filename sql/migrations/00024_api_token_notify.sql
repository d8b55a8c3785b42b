-- +goose Up
-- API tokens are cached in process like contacts (issue 18: an API request learns its caller
-- without a PostgreSQL query). Whatever changes whether a token works is announced on the
-- channel of migration 00013, portico_contact_changed, so each instance drops what it holds:
-- a token's revocation, expiry, scopes or deletion ('t' and the token's id), a portal account's
-- status or deletion (the contact's id; customer tokens work only while it is active), and a
-- truncation ('*'). last_used_at, touched once a minute, announces nothing.
-- +goose StatementBegin
CREATE FUNCTION portico_notify_api_token_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_LEVEL = 'ROW' THEN
        PERFORM pg_notify('portico_contact_changed', 't' || OLD.id::text);
    ELSE
        PERFORM pg_notify('portico_contact_changed', '*');
    END IF;
    RETURN NULL;
END
$$;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE FUNCTION portico_notify_portal_account_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_LEVEL = 'ROW' THEN
        PERFORM pg_notify('portico_contact_changed', OLD.contact_id::text);
    ELSE
        PERFORM pg_notify('portico_contact_changed', '*');
    END IF;
    RETURN NULL;
END
$$;
-- +goose StatementEnd
CREATE TRIGGER api_tokens_notify_changed AFTER UPDATE OF kind, contact_id, token_hash, scopes, expires_at, revoked_at OR DELETE ON api_tokens
    FOR EACH ROW EXECUTE FUNCTION portico_notify_api_token_changed();
CREATE TRIGGER api_tokens_notify_truncated AFTER TRUNCATE ON api_tokens
    FOR EACH STATEMENT EXECUTE FUNCTION portico_notify_api_token_changed();
CREATE TRIGGER portal_accounts_notify_changed AFTER UPDATE OF status, contact_id OR DELETE ON portal_accounts
    FOR EACH ROW EXECUTE FUNCTION portico_notify_portal_account_changed();
CREATE TRIGGER portal_accounts_notify_truncated AFTER TRUNCATE ON portal_accounts
    FOR EACH STATEMENT EXECUTE FUNCTION portico_notify_portal_account_changed();

-- +goose Down
DROP TRIGGER portal_accounts_notify_truncated ON portal_accounts;
DROP TRIGGER portal_accounts_notify_changed ON portal_accounts;
DROP TRIGGER api_tokens_notify_truncated ON api_tokens;
DROP TRIGGER api_tokens_notify_changed ON api_tokens;
DROP FUNCTION portico_notify_portal_account_changed();
DROP FUNCTION portico_notify_api_token_changed();
