-- +goose Up
-- A single sign-on whose email address the identity provider did not verify is completed only
-- by a link mailed to that address (issue 10): its one-time token is an account token of
-- purpose sso_confirm, whose payload holds the pending identity.
ALTER TABLE account_tokens DROP CONSTRAINT account_tokens_purpose_check;
ALTER TABLE account_tokens ADD CONSTRAINT account_tokens_purpose_check
    CHECK (purpose IN ('invite', 'verify', 'reset', 'magic', 'sso_confirm'));
