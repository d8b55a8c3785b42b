-- name: StageList :many
SELECT id, pipeline_id, name, position, is_closed, asks_confirmation FROM stages ORDER BY position, id;

-- name: StageSetConfirmation :execrows
-- Whether the stage asks the customer to confirm the solution (issue 16.5).
UPDATE stages SET asks_confirmation = @asks_confirmation WHERE id = @id;

-- name: StageCreateDefaults :exec
-- A new pipeline's two stages: "New" (open) and "Closed".
INSERT INTO stages (pipeline_id, name, position, is_closed) VALUES (@pipeline_id, 'New', 0, false), (@pipeline_id, 'Closed', 1, true);

-- name: StageCreate :one
-- A stage at the end of pipeline pipeline_id (no row when the pipeline does not exist).
INSERT INTO stages (pipeline_id, name, position, is_closed)
SELECT p.id, @name::text, coalesce((SELECT max(s.position) FROM stages s WHERE s.pipeline_id = p.id), -1) + 1, @is_closed::boolean
FROM pipelines p WHERE p.id = @pipeline_id
RETURNING id, position;

-- name: StageGetForUpdate :one
SELECT pipeline_id, name, position, is_closed FROM stages WHERE id = @id FOR UPDATE;

-- name: StageRename :exec
UPDATE stages SET name = @name, is_closed = @is_closed WHERE id = @id;

-- name: StageOthers :many
-- The other stages of pipeline_id in order.
SELECT id FROM stages WHERE pipeline_id = @pipeline_id AND id <> @id ORDER BY position, id;

-- name: StageSetOrder :exec
-- Positions 0…n-1 in the order of ids.
UPDATE stages s SET position = o.ord - 1
FROM unnest(@ids::bigint[]) WITH ORDINALITY AS o (id, ord) WHERE s.id = o.id;

-- name: StageCountOpenClosed :one
SELECT count(*) FILTER (WHERE NOT is_closed) AS open, count(*) FILTER (WHERE is_closed) AS closed FROM stages WHERE pipeline_id = @pipeline_id;

-- name: StageTicketsFollow :exec
-- Tickets in stage id take its open/closed state (closed_at set or cleared).
UPDATE tickets SET is_closed = @is_closed::boolean,
    closed_at = CASE WHEN @is_closed::boolean THEN coalesce(closed_at, now()) END
WHERE stage_id = @id AND is_closed <> @is_closed::boolean;
