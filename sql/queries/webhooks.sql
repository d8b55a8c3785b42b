-- name: WebhookInsert :one
-- A new subscription (its sealed secret is set by WebhookSetSecret in the same transaction).
INSERT INTO webhooks (url, description, events, enabled, created_by_staff_id)
VALUES (@url, @description, @events, @enabled, @created_by_staff_id)
RETURNING id;

-- name: WebhookSetSecret :execrows
-- Stores a (new) sealed signing secret and its hint.
UPDATE webhooks SET secret_sealed = @secret_sealed, secret_hint = @secret_hint, updated_at = now() WHERE id = @id;

-- name: WebhookUpdate :execrows
-- Changes URL, description, events and the enabled flag.
UPDATE webhooks SET url = @url, description = @description, events = @events, enabled = @enabled, updated_at = now()
WHERE id = @id;

-- name: WebhookSetEnabled :execrows
UPDATE webhooks SET enabled = @enabled, updated_at = now() WHERE id = @id;

-- name: WebhookDelete :execrows
DELETE FROM webhooks WHERE id = @id;

-- name: WebhookGet :one
-- One subscription for the console and the delivery worker (the secret still sealed).
SELECT w.id, w.url, w.description, w.events, w.enabled, w.secret_sealed, w.secret_hint, w.created_at, w.updated_at,
    coalesce(su.name, '')::text AS created_by
FROM webhooks w LEFT JOIN staff_users su ON su.id = w.created_by_staff_id
WHERE w.id = @id;

-- name: WebhookList :many
-- Every subscription, oldest first, with its latest attempt (if any).
SELECT w.id, w.url, w.description, w.events, w.enabled, w.secret_hint, w.created_at,
    d.status AS last_status, coalesce(d.outcome, '')::text AS last_outcome,
    coalesce(d.created_at, 'epoch'::timestamptz)::timestamptz AS last_at
FROM webhooks w
LEFT JOIN LATERAL (SELECT status, outcome, created_at FROM webhook_deliveries
    WHERE webhook_id = w.id ORDER BY created_at DESC, id DESC LIMIT 1) d ON true
ORDER BY w.id LIMIT 500;

-- name: WebhookSubscribers :many
-- The enabled subscriptions to one event.
SELECT id FROM webhooks WHERE enabled AND @event::text = ANY(events) ORDER BY id;

-- name: WebhookDeliveryInsert :exec
INSERT INTO webhook_deliveries (webhook_id, message_id, event, attempt, status, error, duration_ms, outcome)
VALUES (@webhook_id, @message_id, @event, @attempt, @status, @error, @duration_ms, @outcome);

-- name: WebhookDeliveryList :many
-- The latest attempts of one subscription, newest first.
SELECT id, message_id, event, attempt, status, error, duration_ms, outcome, created_at
FROM webhook_deliveries WHERE webhook_id = @webhook_id
ORDER BY created_at DESC, id DESC LIMIT @max_rows;

-- name: WebhookDeliveryPurge :execrows
-- Forgets attempts older than the cutoff (the log is kept bounded).
DELETE FROM webhook_deliveries WHERE created_at < @before;
