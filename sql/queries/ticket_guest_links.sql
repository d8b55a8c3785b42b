-- name: TicketGuestLinkInsert :one
-- A new guest link for a ticket's recipient; the caller mails the token whose hash this is.
INSERT INTO ticket_guest_links (ticket_id, contact_id, token_hash, expires_at)
VALUES (@ticket_id, @contact_id, @token_hash, @expires_at)
RETURNING id;

-- name: TicketGuestLinkDelete :exec
-- Forgets a link whose mail was never sent (the send failed; a retry mints another).
DELETE FROM ticket_guest_links WHERE id = @id;

-- name: TicketGuestLinkByHash :one
-- The live link with this token hash: not revoked, not expired, its contact's portal account
-- not disabled. Records the use in last_used_at.
UPDATE ticket_guest_links l SET last_used_at = now()
WHERE l.token_hash = @token_hash AND l.revoked_at IS NULL AND l.expires_at > now()
  AND NOT EXISTS (SELECT 1 FROM portal_accounts pa WHERE pa.contact_id = l.contact_id AND pa.status = 'disabled')
RETURNING l.id, l.ticket_id, l.contact_id, l.expires_at;

-- name: TicketGuestLinkLive :one
-- The link with this id if it is still live (see TicketGuestLinkByHash): every guest request
-- asks, so a revocation or an expiry ends an open guest session at once.
SELECT l.id, l.ticket_id, l.contact_id, l.expires_at
FROM ticket_guest_links l
WHERE l.id = @id AND l.revoked_at IS NULL AND l.expires_at > now()
  AND NOT EXISTS (SELECT 1 FROM portal_accounts pa WHERE pa.contact_id = l.contact_id AND pa.status = 'disabled');

-- name: TicketGuestLinkCountLive :one
-- How many live links a ticket has, and when the last of them expires (now when none).
SELECT count(*)::bigint AS live, coalesce(max(expires_at), now())::timestamptz AS until
FROM ticket_guest_links
WHERE ticket_id = @ticket_id AND revoked_at IS NULL AND expires_at > now();

-- name: TicketGuestLinkRevokeTicket :execrows
-- An agent revokes every live link of a ticket.
UPDATE ticket_guest_links SET revoked_at = now(), revoked_by_staff_id = @staff_id
WHERE ticket_id = @ticket_id AND revoked_at IS NULL AND expires_at > now();

-- name: TicketGuestLinkPurge :execrows
-- Forgets links that expired or were revoked more than 30 days ago.
DELETE FROM ticket_guest_links
WHERE expires_at < now() - interval '30 days' OR revoked_at < now() - interval '30 days';
