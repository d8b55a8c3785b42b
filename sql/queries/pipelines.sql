-- name: PipelineList :many
SELECT id, name, position FROM pipelines ORDER BY position, id;

-- name: PipelineCreate :one
-- A new pipeline goes last.
INSERT INTO pipelines (name, position) SELECT @name::text, coalesce(max(position), -1) + 1 FROM pipelines RETURNING id;
