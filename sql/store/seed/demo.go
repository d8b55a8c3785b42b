package seed

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/jackc/pgx/v5"

	"golang.org/x/term"
	"portico/sql/store"
)

// DemoPassword is the portal password every demo contact gets from DemoSeed.
const DemoPassword = "portico-demo"

// DemoAgentEmail is the staff agent DemoSeed creates and makes owner of answered tickets.
const DemoAgentEmail = "agent@portico.example"

// DemoContact is one deterministic demo contact (see DemoContactAt).
type DemoContact struct {
	Index   int
	Email   string
	Name    string
	Company string
}

// Word lists for demo names. Changing them changes every demo address: append only.
var (
	demoAdjectives = []string{"Northwind", "Bluepeak", "Silverline", "Redwood", "Brightwater", "Ironbridge",
		"Greenfield", "Suncrest", "Stonegate", "Clearview", "Oakridge", "Highland", "Lakeside", "Westbrook",
		"Goldleaf", "Riverbend"}
	demoNouns = []string{"Analytics", "Logistics", "Systems", "Foods", "Energy", "Media", "Robotics",
		"Health", "Finance", "Textiles", "Motors", "Software", "Pharma", "Travel", "Labs", "Retail"}
	demoSuffixes = []string{"GmbH", "Ltd", "Inc", "BV", "SA", "AG", "LLC", "Oy"}
	demoFirst    = []string{"Anna", "Ben", "Clara", "David", "Elena", "Felix", "Greta", "Hugo", "Ines",
		"Jonas", "Katrin", "Lucas", "Marta", "Noah", "Olivia", "Paul"}
	demoLast = []string{"Schmidt", "Martin", "Garcia", "Silva", "Jansen", "Dubois", "Weber", "Rossi",
		"Novak", "Berg", "Costa", "Moreau", "Fischer", "Lopez", "Bakker", "Keller"}
)

// DemoCompanyName returns the name of demo company c (c ≥ 0). Names are distinct for every c.
func DemoCompanyName(c int) string {
	a, n, s := len(demoAdjectives), len(demoNouns), len(demoSuffixes)
	// (c mod a, (5c + c/a) mod n) is a bijection of 0..a*n-1 when a = n = 16; the suffix then
	// shifts per block of a*n, and a number keeps names distinct past a*n*s.
	name := fmt.Sprintf("%s %s %s", demoAdjectives[c%a], demoNouns[(5*c+c/a)%n], demoSuffixes[(c%s+c/(a*n))%s])
	if block := c / (a * n * s); block > 0 {
		name += fmt.Sprintf(" %d", block+1)
	}
	return name
}

// DemoContactAt returns demo contact i (i ≥ 0): company DemoCompanyName(i/4), a name from fixed
// lists and the address firstname.lastname.<i>@<company-slug>.example (lower-case ASCII).
func DemoContactAt(i int) DemoContact {
	f, l := len(demoFirst), len(demoLast)
	first, last := demoFirst[i%f], demoLast[(7*i+i/f)%l]
	company := DemoCompanyName(i / 4)
	email := fmt.Sprintf("%s.%s.%d@%s.example", strings.ToLower(first), strings.ToLower(last), i, slug(company))
	return DemoContact{Index: i, Email: email, Name: first + " " + last, Company: company}
}

// slug lower-cases s and keeps ASCII letters and digits, joining runs of anything else with "-".
func slug(s string) string {
	var b strings.Builder
	dash := false
	for _, r := range strings.ToLower(s) {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' {
			if dash && b.Len() > 0 {
				b.WriteByte('-')
			}
			b.WriteRune(r)
			dash = false
		} else {
			dash = true
		}
	}
	return b.String()
}

// DemoSignIn is a demo contact that can sign in to the portal with DemoSummary.Password.
type DemoSignIn struct {
	Email, Name, Company string
}

// DemoSummary is what DemoSeed did.
type DemoSummary struct {
	Import ImportSummary
	// Password is the shared portal password of all demo contacts (DemoPassword).
	Password string
	// SignIns lists at most 3 demo contacts that have tickets: two of the same company first
	// (for an organisation-view demo), then one of another company.
	SignIns []DemoSignIn
}

// DemoSeed fills a portal with demo data. It imports csv (size bytes, 0 unknown; a progress bar
// goes to standard error when that is a terminal) with DemoContacts = contacts, then closes a
// deterministic ~30% of the imported tickets that have an agent answer (moved to their
// pipeline's first closed stage), creates the staff agent DemoAgentEmail ("Dana Agent", no
// password) when missing and makes him owner of imported answered tickets without an owner, and
// gives every demo contact an active portal account with DemoPassword hashed once by hash. It is
// safe to run again: the import skips known rows and demo accounts get the demo password back.
//
// Errors: those of TicketImport, contacts < 1, a failing hash, or a database error.
func (s *Seeder) DemoSeed(ctx context.Context, csv io.Reader, size int64, contacts int, hash func(string) (string, error)) (DemoSummary, error) {
	out := DemoSummary{Password: DemoPassword}
	if contacts < 1 {
		return out, fmt.Errorf("demo seed: contacts must be at least 1, got %d", contacts)
	}
	opt := ImportOptions{DemoContacts: contacts, Size: size}
	if term.IsTerminal(int(os.Stderr.Fd())) {
		opt.Progress = os.Stderr
	}
	var err error
	if out.Import, err = s.TicketImport(ctx, csv, opt); err != nil {
		return out, err
	}
	pw, err := hash(DemoPassword)
	if err != nil {
		return out, fmt.Errorf("demo seed: hash password: %w", err)
	}
	emails := make([]string, contacts)
	for i := range emails {
		emails[i] = DemoContactAt(i).Email
	}
	type demoRow struct {
		email, name, company string
		companyID            int64
		tickets              int
	}
	var rows []demoRow
	err = s.tx(ctx, func(tx pgx.Tx) error {
		// Close ~30% of answered imported tickets, chosen by the last byte of the import key.
		if _, err := tx.Exec(ctx, `UPDATE tickets t SET stage_id = cs.id, is_closed = true, closed_at = t.last_activity_at
			FROM (SELECT DISTINCT ON (pipeline_id) pipeline_id, id FROM stages WHERE is_closed
			      ORDER BY pipeline_id, position, id) cs
			WHERE cs.pipeline_id = t.pipeline_id AND t.import_key IS NOT NULL AND NOT t.is_closed
			  AND get_byte(decode(t.import_key, 'hex'), 31) % 10 < 3
			  AND EXISTS (SELECT 1 FROM messages m WHERE m.ticket_id = t.id AND m.kind = 'public' AND m.author_contact_id IS NULL)`); err != nil {
			return fmt.Errorf("close tickets: %w", err)
		}
		var agent int64
		if err := tx.QueryRow(ctx, `INSERT INTO staff_users (email, name, role) VALUES ($1, 'Dana Agent', 'agent')
			ON CONFLICT (lower(email)) DO UPDATE SET email = staff_users.email RETURNING id`, DemoAgentEmail).Scan(&agent); err != nil {
			return fmt.Errorf("agent: %w", err)
		}
		if _, err := tx.Exec(ctx, `UPDATE tickets t SET owner_id = $1
			WHERE t.owner_id IS NULL AND t.import_key IS NOT NULL
			  AND EXISTS (SELECT 1 FROM messages m WHERE m.ticket_id = t.id AND m.kind = 'public' AND m.author_contact_id IS NULL)`, agent); err != nil {
			return fmt.Errorf("ticket owners: %w", err)
		}
		if _, err := tx.Exec(ctx, `INSERT INTO portal_accounts (contact_id, password_hash, status)
			SELECT id, $2, 'active' FROM contacts WHERE lower(email) = ANY($1)
			ON CONFLICT (contact_id) DO UPDATE SET password_hash = EXCLUDED.password_hash, status = 'active', updated_at = now()`,
			emails, pw); err != nil {
			return fmt.Errorf("portal accounts: %w", err)
		}
		r, err := tx.Query(ctx, `SELECT c.email, c.name, coalesce(co.name, ''), coalesce(c.company_id, 0),
				(SELECT count(*) FROM tickets t WHERE t.requester_id = c.id)
			FROM unnest($1::text[]) WITH ORDINALITY AS d (email, n)
			JOIN contacts c ON lower(c.email) = d.email
			LEFT JOIN companies co ON co.id = c.company_id
			ORDER BY d.n`, emails)
		if err != nil {
			return err
		}
		rows, err = pgx.CollectRows(r, func(r pgx.CollectableRow) (demoRow, error) {
			var d demoRow
			err := r.Scan(&d.email, &d.name, &d.company, &d.companyID, &d.tickets)
			return d, err
		})
		return err
	})
	if err != nil {
		return out, fmt.Errorf("demo seed: %w", err)
	}
	// Two contacts with tickets of the first company that has two, then one of another company.
	byCompany := map[int64][]demoRow{}
	var order []int64
	for _, d := range rows {
		if d.tickets == 0 || d.companyID == 0 {
			continue
		}
		if _, ok := byCompany[d.companyID]; !ok {
			order = append(order, d.companyID)
		}
		byCompany[d.companyID] = append(byCompany[d.companyID], d)
	}
	first := int64(0)
	for _, c := range order {
		if len(byCompany[c]) >= 2 {
			first = c
			break
		}
	}
	add := func(d demoRow) {
		out.SignIns = append(out.SignIns, DemoSignIn{Email: d.email, Name: d.name, Company: d.company})
	}
	if first != 0 {
		add(byCompany[first][0])
		add(byCompany[first][1])
	}
	for _, c := range order {
		if c == first || len(out.SignIns) >= 3 {
			continue
		}
		add(byCompany[c][0])
		if first != 0 {
			break
		}
	}
	return out, nil
}

// DemoAdminEmail is the demo admin DemoStaff creates.
const DemoAdminEmail = "admin@portico.example"

// DemoStaff gives the demo agent (DemoAgentEmail) and a demo admin (DemoAdminEmail, "Ada Admin",
// created when missing) the demo password hashed by hash, so the staff side can be tried at
// /admin/login. It returns their sign-ins. Errors: a failing hash or a database error.
func (s *Seeder) DemoStaff(ctx context.Context, hash func(string) (string, error)) ([]DemoSignIn, error) {
	h, err := hash(DemoPassword)
	if err != nil {
		return nil, err
	}
	out := []DemoSignIn{}
	for _, st := range []struct{ email, name, role string }{{DemoAdminEmail, "Ada Admin", store.RoleAdmin}, {DemoAgentEmail, "Dana Agent", store.RoleAgent}} {
		_, err := s.Pool.Exec(ctx, `INSERT INTO staff_users (email, name, role, password_hash) VALUES ($1, $2, $3, $4)
			ON CONFLICT (lower(email)) DO UPDATE SET password_hash = EXCLUDED.password_hash, status = 'active'`, st.email, st.name, st.role, h)
		if err != nil {
			return nil, fmt.Errorf("demo staff %s: %w", st.email, err)
		}
		out = append(out, DemoSignIn{Email: st.email, Name: st.name, Company: st.role})
	}
	return out, nil
}
