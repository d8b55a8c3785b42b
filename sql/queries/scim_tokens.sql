-- name: ScimTokenInsert :one
-- A new SCIM bearer token of an identity provider (only its SHA-256 is stored).
INSERT INTO scim_tokens (provider_id, name, token_hash, hint, created_by_staff_id, expires_at)
VALUES (@provider_id, @name, @token_hash, @hint, @created_by_staff_id, @expires_at)
RETURNING id, created_at;

-- name: ScimTokenAuthenticate :one
-- The live token with this hash (not revoked, not expired) and its provider.
SELECT t.id, t.token_hash, t.last_used_at, p.id AS provider_id, p.slug
FROM scim_tokens t JOIN identity_providers p ON p.id = t.provider_id
WHERE t.token_hash = @token_hash AND t.revoked_at IS NULL AND (t.expires_at IS NULL OR t.expires_at > now());

-- name: ScimTokenTouch :exec
-- Records a use of the token (callers touch at most once a minute).
UPDATE scim_tokens SET last_used_at = now() WHERE id = @id;

-- name: ScimTokenList :many
-- A provider's SCIM tokens, newest first, revoked ones included, with their creators.
SELECT t.id, t.name, t.hint, t.created_at, t.expires_at, t.last_used_at, t.revoked_at,
    coalesce(su.name, '')::text AS created_by
FROM scim_tokens t LEFT JOIN staff_users su ON su.id = t.created_by_staff_id
WHERE t.provider_id = @provider_id ORDER BY t.created_at DESC, t.id DESC LIMIT 100;

-- name: ScimTokenRevoke :one
-- Revokes a provider's token, returning its name (no row: unknown, another provider's or
-- already revoked).
UPDATE scim_tokens SET revoked_at = now() WHERE id = @id AND provider_id = @provider_id AND revoked_at IS NULL RETURNING name;
