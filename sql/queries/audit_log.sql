-- name: AuditLogInsert :exec
-- One audit row: staff_id NULL for the command line and Portico itself.
INSERT INTO audit_log (staff_id, staff_name, key, before, after) VALUES (@staff_id, @staff_name, @key, @before, @after);

-- name: AuditStaffName :one
-- The name an audit row records for staff user id.
SELECT name FROM staff_users WHERE id = @id;
