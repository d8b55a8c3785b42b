-- name: ApiTokenInsert :one
-- A new token (customer token: contact_id set; admin key: scopes and created_by_staff_id).
INSERT INTO api_tokens (kind, contact_id, name, token_hash, hint, scopes, created_by_staff_id, expires_at)
VALUES (@kind, @contact_id, @name, @token_hash, @hint, @scopes, @created_by_staff_id, @expires_at)
RETURNING id, created_at;

-- name: ApiTokenAuthenticate :one
-- The live token with this hash: not revoked, not expired, and (customer tokens) its contact's
-- portal account active, with the contact's company.
SELECT t.id, t.kind, coalesce(t.contact_id, 0)::bigint AS contact_id, t.scopes, t.last_used_at,
    coalesce(c.company_id, 0)::bigint AS company_id, t.expires_at
FROM api_tokens t
LEFT JOIN contacts c ON c.id = t.contact_id
LEFT JOIN portal_accounts pa ON pa.contact_id = t.contact_id
WHERE t.token_hash = @token_hash AND t.revoked_at IS NULL AND (t.expires_at IS NULL OR t.expires_at > now())
    AND (t.kind = 'admin' OR pa.status = 'active');

-- name: ApiTokenTouch :exec
-- Records a use of the token (callers touch at most once a minute).
UPDATE api_tokens SET last_used_at = now() WHERE id = @id;

-- name: ApiTokenListForContact :many
-- A contact's tokens, newest first, revoked ones included.
SELECT id, name, hint, created_at, expires_at, last_used_at, revoked_at
FROM api_tokens WHERE contact_id = @contact_id ORDER BY created_at DESC, id DESC LIMIT 100;

-- name: ApiTokenRevokeForContact :execrows
-- Revokes a token of the contact (a revoked one stays revoked).
UPDATE api_tokens SET revoked_at = now() WHERE id = @id AND contact_id = @contact_id AND revoked_at IS NULL;

-- name: ApiTokenListAdmin :many
-- The admin API keys, newest first, revoked ones included, with their creators.
SELECT t.id, t.name, t.hint, t.scopes, t.created_at, t.expires_at, t.last_used_at, t.revoked_at,
    coalesce(su.name, '')::text AS created_by
FROM api_tokens t LEFT JOIN staff_users su ON su.id = t.created_by_staff_id
WHERE t.kind = 'admin' ORDER BY t.created_at DESC, t.id DESC LIMIT 200;

-- name: ApiTokenRevokeAdmin :one
-- Revokes an admin API key, returning its name (no row: unknown or already revoked).
UPDATE api_tokens SET revoked_at = now() WHERE id = @id AND kind = 'admin' AND revoked_at IS NULL RETURNING name;

-- name: ApiIdempotencyClaim :execrows
-- Claims an idempotency key for a request (0 rows: the key was used before).
INSERT INTO api_idempotency_keys (token_id, key, fingerprint) VALUES (@token_id, @key, @fingerprint)
ON CONFLICT (token_id, key) DO NOTHING;

-- name: ApiIdempotencyGet :one
SELECT fingerprint, status, body, location FROM api_idempotency_keys WHERE token_id = @token_id AND key = @key;

-- name: ApiIdempotencyComplete :exec
-- Stores the response of a claimed key.
UPDATE api_idempotency_keys SET status = @status, body = @body, location = @location WHERE token_id = @token_id AND key = @key;

-- name: ApiIdempotencyRelease :exec
-- Drops a claim whose request failed without an answer worth replaying (5xx), so a retry runs.
DELETE FROM api_idempotency_keys WHERE token_id = @token_id AND key = @key AND status IS NULL;

-- name: ApiIdempotencyPurge :execrows
-- Forgets keys older than 24 hours.
DELETE FROM api_idempotency_keys WHERE created_at < now() - interval '24 hours';
