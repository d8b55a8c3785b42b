package seed

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// BenchSeed fills an empty database with tickets synthetic tickets over companies companies
// (4 contacts each, with active portal accounts that have no password), each ticket with one
// email conversation holding two public messages and one internal note. Contacts are
// bench-<n>@company-<c>.bench, contact n belonging to company (n-1)/4+1.
//
// Distribution: company 1 is a large customer: every 20th ticket (50,000 at 1M) goes to one
// of its four contacts in turn; every other ticket goes to contact (g*7919 mod contacts)+1, which
// spreads them evenly (about 95 per company, 24 per contact at 1M/10k). Every 97th subject
// contains "printer"; so does the first message of every 89th ticket (a hit by body only).
// Last activity is one minute apart per ticket, newest first by ticket number; one in three
// tickets is closed.
//
// It runs in one transaction (a failed run leaves the database as it was), drops the
// secondary indexes of tickets, conversations and messages while loading and rebuilds them
// from their own definitions afterwards, then VACUUMs (hint bits and visibility map, so the
// first benchmark does not pay for them). About a minute for 1,000,000 tickets on 2 cores.
// It is a no-op when the database already holds at least tickets tickets, and refuses a
// database that holds some but fewer. Errors: arguments, database.
func (s *Seeder) BenchSeed(ctx context.Context, tickets, companies int, log func(string)) error {
	if tickets < 1 || companies < 1 {
		return fmt.Errorf("bench seed: need at least one ticket and one company (got %d, %d)", tickets, companies)
	}
	have, err := s.benchTicketCount(ctx, s.Pool)
	if err != nil {
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
	begin := time.Now()
	step := func(name string, start time.Time) {
		log(fmt.Sprintf("bench seed: %s in %s", name, time.Since(start).Round(time.Millisecond)))
	}
	err = s.tx(ctx, func(tx pgx.Tx) error {
		for _, q := range []string{
			`SET LOCAL synchronous_commit = off`,
			`SET LOCAL work_mem = '256MB'`,
			`SET LOCAL maintenance_work_mem = '512MB'`,
			// Another bench-seed waits here, then sees the data below.
			`LOCK TABLE tickets, conversations, messages IN ACCESS EXCLUSIVE MODE`,
		} {
			if _, err := tx.Exec(ctx, q); err != nil {
				return err
			}
		}
		if n, err := s.benchTicketCount(ctx, tx); err != nil || n > 0 {
			if err == nil {
				err = errBenchRace
			}
			return err
		}
		indexes, err := benchDropIndexes(ctx, tx)
		if err != nil {
			return err
		}
		steps := []struct {
			name, sql string
			args      []any
		}{
			{"companies", `INSERT INTO companies (name) SELECT 'Company ' || g FROM generate_series(1, $1::int) g`, []any{companies}},
			{"contacts", `INSERT INTO contacts (email, name, company_id)
				SELECT 'bench-' || g || '@company-' || ((g - 1) / 4 + 1) || '.bench', 'Contact ' || g, c.id
				FROM generate_series(1, $1::int) g
				JOIN companies c ON lower(c.name) = lower('Company ' || ((g - 1) / 4 + 1))`, []any{contacts}},
			{"accounts", `INSERT INTO portal_accounts (contact_id, status)
				SELECT id, 'active' FROM contacts WHERE email LIKE 'bench-%@company-%.bench'`, nil},
			// Contact n is ct.ids[n]; the arithmetic is bigint (g*7919 overflows int at 1M).
			{"tickets", `INSERT INTO tickets (subject, description, pipeline_id, stage_id, priority, requester_id,
					company_id, is_closed, created_at, last_activity_at, closed_at)
				SELECT 'Ticket ' || g || CASE WHEN g % 97 = 0 THEN ' printer jam' ELSE ' login question' END,
					'Body of ticket ' || g, p.id, CASE WHEN g % 3 = 0 THEN closed.id ELSE open.id END,
					(ARRAY['low','medium','high'])[g % 3 + 1], ct.ids[x.n], ct.cos[x.n], g % 3 = 0,
					now() - make_interval(mins => g::int), now() - make_interval(mins => g::int) + interval '30 minutes',
					CASE WHEN g % 3 = 0 THEN now() - make_interval(mins => g::int) + interval '30 minutes' END
				FROM (SELECT array_agg(c.id ORDER BY g) ids, array_agg(c.company_id ORDER BY g) cos
					FROM generate_series(1, $1::int) g
					JOIN contacts c ON lower(c.email) = 'bench-' || g || '@company-' || ((g - 1) / 4 + 1) || '.bench') ct
				CROSS JOIN generate_series(1, $2::bigint) g
				CROSS JOIN LATERAL (SELECT (CASE WHEN g % 20 = 0 THEN (g / 20) % 4 + 1 ELSE (g * 7919) % $1 + 1 END)::int AS n) x
				CROSS JOIN (SELECT id FROM pipelines WHERE name = 'Support') p
				CROSS JOIN LATERAL (SELECT id FROM stages WHERE pipeline_id = p.id AND NOT is_closed ORDER BY position LIMIT 1) open
				CROSS JOIN LATERAL (SELECT id FROM stages WHERE pipeline_id = p.id AND is_closed ORDER BY position LIMIT 1) closed
				ORDER BY g`, []any{contacts, tickets}},
			{"conversations", `INSERT INTO conversations (ticket_id, inbox_id, channel, created_at)
				SELECT t.id, i.id, 'email', t.created_at FROM tickets t CROSS JOIN (SELECT id FROM inboxes WHERE is_default) i
				ORDER BY t.id`, nil},
			{"messages", `INSERT INTO messages (conversation_id, ticket_id, kind, author_contact_id, body, created_at, requester_id, company_id)
				SELECT cv.id, t.id, k.kind, CASE WHEN k.n = 1 THEN t.requester_id END,
					CASE k.n WHEN 1 THEN 'Customer message of ticket ' || t.id ||
							CASE WHEN t.id % 89 = 0 THEN ' about the printer in room 4' ELSE ' about the login page' END
						WHEN 2 THEN 'Internal note for ticket ' || t.id ELSE 'Agent answer for ticket ' || t.id END,
					t.created_at + make_interval(mins => k.n * 10), t.requester_id, t.company_id
				FROM tickets t JOIN conversations cv ON cv.ticket_id = t.id
				CROSS JOIN (VALUES (1, 'public'), (2, 'internal_note'), (3, 'public')) k (n, kind)
				ORDER BY t.id, k.n`, nil},
		}
		for _, st := range steps {
			start := time.Now()
			if _, err := tx.Exec(ctx, st.sql, st.args...); err != nil {
				return fmt.Errorf("%s: %w", st.name, err)
			}
			step(st.name, start)
		}
		start := time.Now()
		for _, ix := range indexes {
			if _, err := tx.Exec(ctx, ix.def); err != nil {
				return fmt.Errorf("rebuild index %s: %w", ix.name, err)
			}
		}
		step(fmt.Sprintf("%d indexes", len(indexes)), start)
		return nil
	})
	if errors.Is(err, errBenchRace) {
		log("bench data present: seeded by another run")
		return nil
	}
	if err != nil {
		return fmt.Errorf("bench seed: %w", err)
	}
	// VACUUM cannot run in a transaction; without it the first reads set hint bits on every
	// page and index-only scans fall back to the heap.
	start := time.Now()
	if _, err := s.Pool.Exec(ctx, `VACUUM (ANALYZE) companies, contacts, portal_accounts, tickets, conversations, messages`); err != nil {
		return fmt.Errorf("bench seed: vacuum: %w", err)
	}
	step("vacuum analyze", start)
	log(fmt.Sprintf("bench seed: %d tickets over %d companies in %s", tickets, companies, time.Since(begin).Round(time.Millisecond)))
	return nil
}

var errBenchRace = errors.New("bench data appeared while waiting for the lock")

type benchIndex struct{ name, def string }

// benchDropIndexes drops the indexes of the bulk-loaded tables that back no constraint (the
// primary keys and unique keys stay: foreign keys and ON CONFLICT need them) and returns their
// definitions, in creation order, for rebuilding.
func benchDropIndexes(ctx context.Context, tx pgx.Tx) ([]benchIndex, error) {
	rows, err := tx.Query(ctx, `SELECT i.indexrelid::regclass::text, pg_get_indexdef(i.indexrelid)
		FROM pg_index i
		WHERE i.indrelid IN ('tickets'::regclass, 'conversations'::regclass, 'messages'::regclass)
			AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = i.indexrelid)
		ORDER BY i.indexrelid`)
	if err != nil {
		return nil, err
	}
	list, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (benchIndex, error) {
		var ix benchIndex
		err := r.Scan(&ix.name, &ix.def)
		return ix, err
	})
	if err != nil {
		return nil, err
	}
	for _, ix := range list {
		if _, err := tx.Exec(ctx, `DROP INDEX `+ix.name); err != nil {
			return nil, fmt.Errorf("drop index %s: %w", ix.name, err)
		}
	}
	return list, nil
}

type benchQuerier interface {
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// benchTicketCount counts the tickets (an index-only scan after the seed's VACUUM).
func (s *Seeder) benchTicketCount(ctx context.Context, q benchQuerier) (int, error) {
	var n int
	err := q.QueryRow(ctx, `SELECT count(*) FROM tickets`).Scan(&n)
	return n, err
}
