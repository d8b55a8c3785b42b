-- name: InboxList :many
-- Every inbox by name.
SELECT id, name, is_default FROM inboxes ORDER BY lower(name), id;

-- name: InboxCreate :one
INSERT INTO inboxes (name) VALUES (@name) RETURNING id;

-- name: InboxIsDefaultForUpdate :one
-- Locks inbox id while the default moves.
SELECT is_default FROM inboxes WHERE id = @id FOR UPDATE;

-- name: InboxOtherDefaults :one
-- The ids of the default inboxes other than id, comma-separated ("" = none).
SELECT coalesce(string_agg(id::text, ','), '')::text AS ids FROM inboxes WHERE is_default AND id <> @id;

-- name: InboxClearDefaultExcept :exec
UPDATE inboxes SET is_default = false WHERE is_default AND id <> @id;

-- name: InboxMakeDefault :exec
UPDATE inboxes SET is_default = true WHERE id = @id;
