package store

import (
	"context"
	"fmt"
	"time"
)

// BenchSeed fills an empty database with tickets synthetic tickets spread over companies
// companies (4 contacts each), each with a conversation and two public messages and one internal
// note, using generate_series in a few set-based statements (about a minute for 1,000,000
// tickets on 2 cores). It is a no-op when the database already holds at least tickets tickets.
// Contacts are bench-<n>@company-<c>.bench; their accounts have no password. Errors: database.
func (s *Store) BenchSeed(ctx context.Context, tickets, companies int, log func(string)) error {
	var have int
	if err := s.Pool.QueryRow(ctx, `SELECT count(*) FROM tickets`).Scan(&have); err != nil {
		return err
	}
	if have >= tickets {
		log(fmt.Sprintf("bench data present: %d tickets", have))
		return nil
	}
	if have > 0 {
		return fmt.Errorf("bench seed: database holds %d tickets, fewer than %d: use an empty database", have, tickets)
	}
	contacts := companies * 4
	steps := []struct{ name, sql string }{
		{"companies", `INSERT INTO companies (name) SELECT 'Company ' || g FROM generate_series(1, $1::int) g`},
		{"contacts", `INSERT INTO contacts (email, name, company_id)
			SELECT 'bench-' || g || '@company-' || ((g - 1) / 4 + 1) || '.bench', 'Contact ' || g, c.id
			FROM generate_series(1, $1::int) g JOIN companies c ON c.name = 'Company ' || ((g - 1) / 4 + 1)`},
		{"tickets", `INSERT INTO tickets (subject, description, pipeline_id, stage_id, priority, requester_id, company_id,
				is_closed, created_at, last_activity_at, closed_at)
			SELECT 'Ticket ' || g || CASE WHEN g % 97 = 0 THEN ' printer jam' ELSE ' login question' END,
				'Body of ticket ' || g, p.id, CASE WHEN g % 3 = 0 THEN closed.id ELSE open.id END,
				(ARRAY['low','medium','high'])[g % 3 + 1], ct.id, ct.company_id, g % 3 = 0,
				now() - make_interval(mins => g), now() - make_interval(mins => g) + interval '30 minutes',
				CASE WHEN g % 3 = 0 THEN now() - make_interval(mins => g) + interval '30 minutes' END
			FROM generate_series(1, $2::int) g
			JOIN contacts ct ON ct.email = 'bench-' || ((g * 7919) % $1::int + 1) || '@company-' || (((g * 7919) % $1::int) / 4 + 1) || '.bench'
			CROSS JOIN (SELECT id FROM pipelines WHERE name = 'Support') p
			CROSS JOIN LATERAL (SELECT id FROM stages WHERE pipeline_id = p.id AND NOT is_closed ORDER BY position LIMIT 1) open
			CROSS JOIN LATERAL (SELECT id FROM stages WHERE pipeline_id = p.id AND is_closed ORDER BY position LIMIT 1) closed`},
		{"conversations", `INSERT INTO conversations (ticket_id, inbox_id, channel, created_at)
			SELECT t.id, i.id, 'email', t.created_at FROM tickets t CROSS JOIN (SELECT id FROM inboxes WHERE is_default) i`},
		{"messages", `INSERT INTO messages (conversation_id, ticket_id, kind, author_contact_id, body, created_at)
			SELECT cv.id, t.id, k.kind, CASE WHEN k.n = 1 THEN t.requester_id END,
				CASE k.n WHEN 1 THEN 'Customer message of ticket ' || t.id || ' about the login page'
					WHEN 2 THEN 'Internal note for ticket ' || t.id ELSE 'Agent answer for ticket ' || t.id END,
				t.created_at + make_interval(mins => k.n * 10)
			FROM tickets t JOIN conversations cv ON cv.ticket_id = t.id
			CROSS JOIN (VALUES (1, 'public'), (2, 'internal_note'), (3, 'public')) k (n, kind)`},
		{"accounts", `INSERT INTO portal_accounts (contact_id, status) SELECT id, 'active' FROM contacts`},
		{"analyze", `ANALYZE`},
	}
	for _, st := range steps {
		start := time.Now()
		var err error
		switch st.name {
		case "companies":
			_, err = s.Pool.Exec(ctx, st.sql, companies)
		case "contacts":
			_, err = s.Pool.Exec(ctx, st.sql, contacts)
		case "tickets":
			_, err = s.Pool.Exec(ctx, st.sql, contacts, tickets)
		default:
			_, err = s.Pool.Exec(ctx, st.sql)
		}
		if err != nil {
			return fmt.Errorf("bench seed %s: %w", st.name, err)
		}
		log(fmt.Sprintf("bench seed: %s in %s", st.name, time.Since(start).Round(time.Millisecond)))
	}
	return nil
}
