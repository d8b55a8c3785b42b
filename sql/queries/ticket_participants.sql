-- name: TicketParticipantList :many
-- A ticket's participants, oldest first, with how they were added. The caller has checked that
-- whoever asks may see the ticket (staff, or a Viewer through TicketVisible).
SELECT tp.contact_id, c.email, c.name, tp.added_via, tp.created_at,
    coalesce(nullif(ac.name, ''), ac.email, su.name, '')::text AS added_by
FROM ticket_participants tp
JOIN contacts c ON c.id = tp.contact_id
LEFT JOIN contacts ac ON ac.id = tp.added_by_contact_id
LEFT JOIN staff_users su ON su.id = tp.added_by_staff_id
WHERE tp.ticket_id = @ticket_id
ORDER BY tp.created_at, tp.contact_id;

-- name: TicketParticipantInsert :execrows
-- Adds a participant; an existing one is left as it is (0 rows).
INSERT INTO ticket_participants (ticket_id, contact_id, added_via, added_by_contact_id, added_by_staff_id)
VALUES (@ticket_id, @contact_id, @added_via, sqlc.narg('added_by_contact_id'), sqlc.narg('added_by_staff_id'))
ON CONFLICT (ticket_id, contact_id) DO NOTHING;

-- name: TicketParticipantDelete :execrows
DELETE FROM ticket_participants WHERE ticket_id = @ticket_id AND contact_id = @contact_id;

-- name: TicketParticipantIsAny :one
-- Whether the contact participates in any ticket (the portal then offers "Shared with me").
SELECT EXISTS (SELECT 1 FROM ticket_participants WHERE contact_id = @contact_id)::boolean;
