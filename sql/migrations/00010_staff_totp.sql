-- +goose Up
-- Optional TOTP second factor for staff (RFC 6238). The shared secret is sealed at rest
-- (AES-256-GCM under a key derived from PORTICO_SECRET_KEY, see handlers/staff_totp.go);
-- totp_last_step is the last accepted time step (unix time / 30 s), so that each code is
-- accepted once (replay protection). TOTP is on when totp_enabled_at is set.
ALTER TABLE staff_users
    ADD COLUMN totp_secret     bytea,
    ADD COLUMN totp_enabled_at timestamptz,
    ADD COLUMN totp_last_step  bigint;
