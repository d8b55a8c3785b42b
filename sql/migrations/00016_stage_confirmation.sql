-- +goose Up
-- Accept or reopen (issue 16.5): a stage may mean "solved, waiting for the customer". On a
-- ticket in such a stage the customer is asked "Is this solved?": yes closes it, a reply
-- ("No, it still happens") moves it back to the pipeline's first open stage. The flag is
-- ignored on closed stages.
ALTER TABLE stages ADD COLUMN asks_confirmation boolean NOT NULL DEFAULT false;

-- The default pipeline gets such a stage, after its open stages, unless it has one named so.
INSERT INTO stages (pipeline_id, name, position, is_closed, asks_confirmation)
SELECT p.id, 'Solved', coalesce((SELECT max(s.position) FROM stages s WHERE s.pipeline_id = p.id AND NOT s.is_closed), 0), false, true
FROM pipelines p
WHERE p.name = 'Support' AND NOT EXISTS (SELECT 1 FROM stages s WHERE s.pipeline_id = p.id AND lower(s.name) = 'solved');

-- +goose Down
SELECT 1;
