package store_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"

	"portico/sql/store"
	"portico/sql/store/seed"
	"portico/sql/store/storetest"
)

// planNode is the part of EXPLAIN (FORMAT JSON) the plan test reads.
type planNode struct {
	NodeType  string     `json:"Node Type"`
	Relation  string     `json:"Relation Name"`
	Index     string     `json:"Index Name"`
	Filter    string     `json:"Filter"`
	Subplan   string     `json:"Subplan Name"`
	Plans     []planNode `json:"Plans"`
	IndexCond string     `json:"Index Cond"`
}

// walkPlan lists a plan's nodes as "Node Type[:relation][@index]" and its filters.
func walkPlan(n planNode, nodes, filters *[]string) {
	s := n.NodeType
	if n.Relation != "" {
		s += ":" + n.Relation
	}
	if n.Index != "" {
		s += "@" + n.Index
	}
	*nodes = append(*nodes, s)
	if n.Filter != "" {
		*filters = append(*filters, n.Filter)
	}
	if n.Subplan != "" {
		*filters = append(*filters, n.Subplan)
	}
	for _, c := range n.Plans {
		walkPlan(c, nodes, filters)
	}
}

// sqlLiteral writes a query argument as the literal PostgreSQL would bind for it, with its type:
// bigint for Go integers (as pgx binds them), text, bigint[].
func sqlLiteral(a any) (string, string) {
	switch v := a.(type) {
	case int:
		return strconv.Itoa(v), "bigint"
	case int64:
		return strconv.FormatInt(v, 10), "bigint"
	case string:
		return "'" + strings.ReplaceAll(v, "'", "''") + "'", "text"
	case []int64:
		parts := make([]string, len(v))
		for i, n := range v {
			parts[i] = strconv.FormatInt(n, 10)
		}
		return "'{" + strings.Join(parts, ",") + "}'", "bigint[]"
	}
	panic(fmt.Sprintf("sqlLiteral: %T", a))
}

// explain returns the plan of sql with args, as a prepared statement with bigint parameters
// like pgx's, planned generically (the plan pgx's statement cache settles on after five runs)
// or for these values (custom).
func explain(t *testing.T, pool *pgxpool.Pool, sql string, args []any, generic bool) ([]string, []string) {
	t.Helper()
	ctx := context.Background()
	conn, err := pool.Acquire(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Release()
	mode := "force_custom_plan"
	if generic {
		mode = "force_generic_plan"
	}
	var types, vals []string
	for _, a := range args {
		v, typ := sqlLiteral(a)
		types, vals = append(types, typ), append(vals, v)
	}
	for _, q := range []string{"SET plan_cache_mode = " + mode,
		"PREPARE plan_probe(" + strings.Join(types, ", ") + ") AS " + sql} {
		if _, err := conn.Exec(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	defer conn.Exec(ctx, "DEALLOCATE plan_probe; RESET plan_cache_mode") //nolint:errcheck
	var raw []byte
	if err := conn.QueryRow(ctx, "EXPLAIN (FORMAT JSON) EXECUTE plan_probe("+strings.Join(vals, ", ")+")").Scan(&raw); err != nil {
		t.Fatal(err)
	}
	var out []struct{ Plan planNode }
	if err := json.Unmarshal(raw, &out); err != nil || len(out) != 1 {
		t.Fatalf("EXPLAIN: %v %s", err, raw)
	}
	var nodes, filters []string
	walkPlan(out[0].Plan, &nodes, &filters)
	return nodes, filters
}

// benchShaped returns a database with the bench data's shape (bench-seed: one company with
// every 20th ticket, 1,000 of 20,000, the others about 95 each; "login" in every subject, "printer" in one
// ticket of about 47), or PORTICO_BENCH_DATABASE_URL's bench data when it is set.
func benchShaped(t *testing.T) *pgxpool.Pool {
	if u := os.Getenv("PORTICO_BENCH_DATABASE_URL"); u != "" {
		pool, err := pgxpool.New(context.Background(), u)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(pool.Close)
		return pool
	}
	pool := storetest.NewDB(t)
	if err := seed.New(pool).BenchSeed(context.Background(), 20_000, 200, func(string) {}); err != nil {
		t.Fatal(err)
	}
	return pool
}

// TestSearchPlanShapes: on bench-shaped data, each search runs the plans it should, and each
// query's plan (custom and generic, with bigint parameters as pgx binds them) uses the intended
// index: the bounded walk reads the scope's (scope, activity) index in list order and probes a
// ticket's own messages (messages_ticket_idx), never a hashed subplan over every matching message
// of the database nor a sequential scan; the direct plan asks the (scope, trigram) indexes.
func TestSearchPlanShapes(t *testing.T) {
	pool := benchShaped(t)
	ctx := context.Background()
	s := store.New(pool)
	contact := func(email string) (int64, int64) {
		var id, company int64
		if err := pool.QueryRow(ctx, `SELECT id, company_id FROM contacts WHERE email = $1`, email).Scan(&id, &company); err != nil {
			t.Fatal(err)
		}
		return id, company
	}
	st := store.DefaultSettings()
	st.TicketPermissions = store.PermissionsCompany
	largeID, largeCo := contact("bench-1@company-1.bench")
	smallID, smallCo := contact("bench-5@company-2.bench")
	large := store.NewViewer(largeID, largeCo, st, store.ViewOrg)
	small := store.NewViewer(smallID, smallCo, st, store.ViewOrg)
	largeOwn := store.NewViewer(largeID, largeCo, st, store.ViewMine)

	// The large company's contact requests a quarter of its tickets: 250 here, 12,500 in the
	// bench data; up to the walk's budget (200) they would be walked whole.
	ownPlans := "scope walk"
	var own int
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM tickets WHERE requester_id = $1`, largeID).Scan(&own); err != nil {
		t.Fatal(err)
	}
	if own > 200 {
		ownPlans = "scope walk direct direct page"
	}
	type query struct {
		name, sql string
		args      []any
	}
	var ran []query
	store.SetSearchTrace(t, func(name, sql string, args []any) {
		ran = append(ran, query{name, sql, append([]any(nil), args...)})
	})
	for _, tc := range []struct {
		who   string
		v     store.Viewer
		q     string
		plans string // the queries the search runs, in order
		index string // the scope's activity index
	}{
		{"large company", large, "login", "scope walk", "tickets_company_activity_idx"},
		{"large company", large, "printer", "scope walk direct direct page", "tickets_company_activity_idx"},
		{"large company", large, "zzzz", "scope walk direct", "tickets_company_activity_idx"}, // nothing to sort: no page query
		{"large company, own view", largeOwn, "printer", ownPlans, "tickets_requester_activity_idx"},
		{"small company", small, "printer", "scope walk", "tickets_company_activity_idx"},
		{"small company", small, "login", "scope walk", "tickets_company_activity_idx"},
	} {
		ran = nil
		page, err := s.TicketListForViewer(ctx, tc.v, store.TicketListParams{Q: tc.q})
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, q := range ran {
			names = append(names, q.name)
		}
		if got := strings.Join(names, " "); got != tc.plans {
			t.Errorf("%s, %q: ran %q, want %q", tc.who, tc.q, got, tc.plans)
		}
		if tc.q == "login" && len(page.Rows) != 25 || tc.q == "zzzz" && len(page.Rows) != 0 || tc.q == "printer" && len(page.Rows) == 0 {
			t.Errorf("%s, %q: %d rows", tc.who, tc.q, len(page.Rows))
		}
		for _, q := range ran {
			for _, generic := range []bool{false, true} {
				nodes, filters := explain(t, pool, q.sql, q.args, generic)
				plan := strings.Join(nodes, " > ")
				t.Logf("%s, %q, %s (generic %v): %s | %s", tc.who, tc.q, q.name, generic, plan, strings.Join(filters, " | "))
				fail := func(why string) {
					t.Errorf("%s, %q, %s (generic %v): %s:\n%s\n%s", tc.who, tc.q, q.name, generic, why, plan, strings.Join(filters, " | "))
				}
				if strings.Contains(plan, "Seq Scan:tickets") || strings.Contains(plan, "Seq Scan:messages") {
					fail("a sequential scan")
				}
				if strings.Contains(strings.ToLower(strings.Join(filters, " ")), "hashed subplan") {
					fail("a hashed subplan (every matching message of the database)")
				}
				switch q.name {
				case "walk":
					// In list order from an index (the scope's, or for a company holding a large
					// share of all tickets the global activity index filtered by company: both
					// stop after the budget), each ticket's own messages probed.
					inner := plan[strings.Index(plan, "Subquery Scan"):]
					if !strings.Contains(inner, "Index Scan:tickets@"+tc.index) && !strings.Contains(inner, "Index Scan:tickets@tickets_activity_idx") {
						fail("the walk must read the tickets in list order from " + tc.index)
					}
					if strings.Contains(inner, "Sort") {
						fail("the walk sorts the scope")
					}
					if !strings.Contains(plan, "Index Scan:messages@messages_ticket_idx") {
						fail("the walk must probe each ticket's messages (messages_ticket_idx)")
					}
				case "direct":
					// Both branches through trigram indexes (the planner may take the scope from
					// the GIN's first column or from the scope's btree).
					branches := strings.SplitN(plan, "Bitmap Heap Scan:messages", 2)
					if len(branches) != 2 || !strings.Contains(branches[0], "_subject_trgm_idx") || !strings.Contains(branches[1], "_body_trgm_idx") {
						fail("the direct plan must find subjects and bodies through trigram indexes")
					}
				case "scope":
					if !strings.Contains(plan, "Index Only Scan") && !strings.Contains(plan, "Index Scan") {
						fail("the scope's size must come from an index")
					}
				}
			}
		}
	}
}
