-- name: TicketParticipantInsert :execrows
-- Adds a participant; an existing one is left as it is (0 rows).
INSERT INTO ticket_participants (ticket_id, contact_id, added_via, added_by_contact_id, added_by_staff_id)
VALUES (@ticket_id, @contact_id, @added_via, sqlc.narg('added_by_contact_id'), sqlc.narg('added_by_staff_id'))
ON CONFLICT (ticket_id, contact_id) DO NOTHING;

-- name: TicketParticipantDelete :execrows
DELETE FROM ticket_participants WHERE ticket_id = @ticket_id AND contact_id = @contact_id;
