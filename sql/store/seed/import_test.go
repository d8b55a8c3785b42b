package seed_test

import (
	"context"
	"encoding/csv"
	"os"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgx/v5/pgxpool"

	"portico/sql/store"
	"portico/sql/store/seed"
	"portico/sql/store/storetest"
)

const multilang = "demodata/tickets-multilang.csv"

// readCSV returns the header and records of a test file.
func readCSV(t *testing.T, path string) ([]string, [][]string) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	all, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	return all[0], all[1:]
}

func importFile(t *testing.T, st *store.Store, path string, opt seed.ImportOptions) seed.ImportSummary {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sum, err := seed.New(st.Pool).TicketImport(context.Background(), f, opt)
	if err != nil {
		t.Fatalf("TicketImport(%s): %v", path, err)
	}
	return sum
}

// tableCounts counts the rows of the tables an import writes.
func tableCounts(t *testing.T, pool *pgxpool.Pool) map[string]int {
	t.Helper()
	out := map[string]int{}
	for _, tbl := range []string{"tickets", "contacts", "companies", "pipelines", "stages", "conversations", "messages"} {
		var n int
		if err := pool.QueryRow(context.Background(), `SELECT count(*) FROM `+tbl).Scan(&n); err != nil {
			t.Fatal(err)
		}
		out[tbl] = n
	}
	return out
}

func TestTicketImportMultilang(t *testing.T) {
	ctx := context.Background()
	pool := storetest.NewDB(t)
	st := store.New(pool)
	head, recs := readCSV(t, multilang)
	col := map[string]int{}
	for i, h := range head {
		col[h] = i
	}

	start := time.Now()
	sum := importFile(t, st, multilang, seed.ImportOptions{Report: func(line int, msg string) { t.Errorf("bad row %d: %s", line, msg) }})
	t.Logf("imported %d rows in %v", sum.Rows, time.Since(start))
	if sum.Rows != 294 || sum.Imported != 294 || sum.Bad != 0 || sum.Duplicates != 0 {
		t.Fatalf("summary = %+v, want 294 rows, 294 imported", sum)
	}
	answers := 0
	for _, r := range recs {
		if r[col["answer"]] != "" {
			answers++
		}
	}
	before := tableCounts(t, pool)
	want := map[string]int{"tickets": 294, "contacts": 0, "companies": 0, "pipelines": 11, "conversations": 294, "messages": 294 + answers}
	for k, v := range want {
		if before[k] != v {
			t.Errorf("%s = %d, want %d", k, before[k], v)
		}
	}
	// Four stages per pipeline, and the default Support pipeline's "Solved" stage that asks the
	// customer to confirm (migration 00016).
	if before["stages"] != 11*4+1 {
		t.Errorf("stages = %d, want 45", before["stages"])
	}

	// Re-import: nothing changes.
	again := importFile(t, st, multilang, seed.ImportOptions{})
	if again.Rows != 294 || again.Imported != 0 || again.Duplicates != 294 || again.Bad != 0 {
		t.Fatalf("re-import summary = %+v, want 0 imported, 294 duplicates", again)
	}
	if after := tableCounts(t, pool); !reflect.DeepEqual(after, before) {
		t.Errorf("counts after re-import = %v, want %v", after, before)
	}

	// Tickets were inserted in file order: compare every ticket with its record, byte for byte.
	rows, err := pool.Query(ctx, `SELECT t.subject, t.description, p.name, st.name, t.is_closed, t.priority, t.category,
			t.language, t.tags, t.channel, t.requester_id IS NULL,
			(SELECT m.body FROM messages m WHERE m.ticket_id = t.id ORDER BY m.created_at, m.id OFFSET 1 LIMIT 1),
			(SELECT m.body FROM messages m WHERE m.ticket_id = t.id ORDER BY m.created_at, m.id LIMIT 1),
			t.last_activity_at - t.created_at
		FROM tickets t JOIN pipelines p ON p.id = t.pipeline_id JOIN stages st ON st.id = t.stage_id ORDER BY t.id`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	i, umlauts, telNum, packed := 0, 0, 0, false
	for rows.Next() {
		var subject, desc, pipeline, stage, prio, cat, lang, channel string
		var answer, first *string
		var tags []string
		var closed, noRequester bool
		var span time.Duration
		if err := rows.Scan(&subject, &desc, &pipeline, &stage, &closed, &prio, &cat, &lang, &tags, &channel, &noRequester, &answer, &first, &span); err != nil {
			t.Fatal(err)
		}
		r := recs[i]
		i++
		if desc != r[col["body"]] || first == nil || *first != r[col["body"]] {
			t.Errorf("record %d: body not kept byte for byte", i)
		}
		if strings.Contains(desc, "ü") && lang == "de" {
			umlauts++
		}
		wantAnswer := r[col["answer"]]
		if (answer == nil) != (wantAnswer == "") || answer != nil && *answer != wantAnswer {
			t.Errorf("record %d: answer = %v, want %q", i, answer, wantAnswer)
		}
		if answer != nil && strings.Contains(*answer, "<tel_num>") {
			telNum++
		}
		if s := strings.TrimSpace(r[col["subject"]]); s != "" && subject != s {
			t.Errorf("record %d: subject = %q, want %q", i, subject, s)
		}
		if r[col["subject"]] == "" && (subject == "" || utf8.RuneCountInString(subject) > 80) {
			t.Errorf("record %d: derived subject %q", i, subject)
		}
		if pipeline != r[col["queue"]] || cat != r[col["type"]] || prio != r[col["priority"]] || lang != r[col["language"]] || channel != "email" {
			t.Errorf("record %d: pipeline/category/priority/language/channel = %q/%q/%q/%q/%q", i, pipeline, cat, prio, lang, channel)
		}
		wantStage, wantSpan := "New", time.Duration(0)
		if wantAnswer != "" {
			wantStage, wantSpan = "Waiting on contact", 2*time.Hour
		}
		if stage != wantStage || closed || span != wantSpan {
			t.Errorf("record %d: stage %q closed %v activity span %v, want %q open %v", i, stage, closed, span, wantStage, wantSpan)
		}
		if !noRequester {
			t.Errorf("record %d: has a requester without requester_email or demo contacts", i)
		}
		var wantTags []string
		for n := 1; n <= 8; n++ {
			for _, tag := range strings.Split(r[col["tag_"+string(rune('0'+n))]], ",") {
				if tag != "" && !slices.Contains(wantTags, tag) {
					wantTags = append(wantTags, tag)
				}
			}
		}
		if strings.Contains(r[col["tag_1"]], ",") {
			packed = true
		}
		if !slices.Equal(tags, wantTags) {
			t.Errorf("record %d: tags = %q, want %q", i, tags, wantTags)
		}
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	if i != 294 || umlauts == 0 || telNum == 0 || !packed {
		t.Errorf("checked %d tickets, %d German with umlauts, %d answers with <tel_num>, packed tags row seen %v", i, umlauts, telNum, packed)
	}

	// A German ticket, looked up by its CSV cell.
	for _, r := range recs {
		if r[col["language"]] == "de" && strings.ContainsAny(r[col["body"]], "äöüß") && r[col["subject"]] != "" {
			var body string
			if err := pool.QueryRow(ctx, `SELECT m.body FROM tickets t JOIN messages m ON m.ticket_id = t.id
				WHERE t.subject = $1 AND m.author_contact_id IS NULL AND m.author_staff_id IS NULL
				ORDER BY m.created_at LIMIT 1`, strings.TrimSpace(r[col["subject"]])).Scan(&body); err != nil {
				t.Fatal(err)
			}
			_ = body // the ticket has no requester: both messages match; the first is the customer's
			var desc string
			if err := pool.QueryRow(ctx, `SELECT description FROM tickets WHERE subject = $1 ORDER BY id LIMIT 1`,
				strings.TrimSpace(r[col["subject"]])).Scan(&desc); err != nil {
				t.Fatal(err)
			}
			if desc != r[col["body"]] || body != r[col["body"]] {
				t.Errorf("German body changed:\n got %q\nwant %q", desc, r[col["body"]])
			}
			break
		}
	}
}

func TestTicketImportDemoContacts(t *testing.T) {
	ctx := context.Background()
	pool := storetest.NewDB(t)
	st := store.New(pool)
	sum := importFile(t, st, multilang, seed.ImportOptions{DemoContacts: 40})
	if sum.Imported != 294 {
		t.Fatalf("summary = %+v", sum)
	}
	var companies, contacts, minPer, orphans, wrongCompany int
	if err := pool.QueryRow(ctx, `SELECT count(*), sum(n), min(n) FROM (
		SELECT co.id, count(c.id) AS n FROM companies co LEFT JOIN contacts c ON c.company_id = co.id GROUP BY co.id) x`).
		Scan(&companies, &contacts, &minPer); err != nil {
		t.Fatal(err)
	}
	if companies != 10 || contacts < 36 || contacts > 40 || minPer < 2 {
		t.Errorf("companies %d, contacts %d, fewest contacts per company %d; want 10 companies with several contacts each", companies, contacts, minPer)
	}
	if err := pool.QueryRow(ctx, `SELECT count(*) FILTER (WHERE t.requester_id IS NULL),
			count(*) FILTER (WHERE t.company_id IS DISTINCT FROM c.company_id)
		FROM tickets t LEFT JOIN contacts c ON c.id = t.requester_id`).Scan(&orphans, &wrongCompany); err != nil {
		t.Fatal(err)
	}
	if orphans != 0 || wrongCompany != 0 {
		t.Errorf("%d tickets without requester, %d with a company other than the requester's", orphans, wrongCompany)
	}
	// Customer messages are written by the requester.
	var bad int
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM tickets t WHERE NOT EXISTS (SELECT 1 FROM messages m
		WHERE m.ticket_id = t.id AND m.author_contact_id = t.requester_id AND m.body = t.description)`).Scan(&bad); err != nil {
		t.Fatal(err)
	}
	if bad != 0 {
		t.Errorf("%d tickets lack the requester's first message", bad)
	}
	d := seed.DemoContactAt(5)
	var email, name, company string
	if err := pool.QueryRow(ctx, `SELECT c.email, c.name, co.name FROM contacts c JOIN companies co ON co.id = c.company_id
		WHERE c.email = $1`, d.Email).Scan(&email, &name, &company); err != nil {
		t.Fatalf("demo contact 5 (%s): %v", d.Email, err)
	}
	if name != d.Name || company != d.Company || d.Company != seed.DemoCompanyName(1) {
		t.Errorf("demo contact 5 = %s %s %s, want %+v", email, name, company, d)
	}
	before := tableCounts(t, pool)
	if again := importFile(t, st, multilang, seed.ImportOptions{DemoContacts: 40}); again.Duplicates != 294 {
		t.Errorf("re-import = %+v", again)
	}
	if after := tableCounts(t, pool); !reflect.DeepEqual(after, before) {
		t.Errorf("counts after re-import = %v, want %v", after, before)
	}
}

func TestDemoNamesDistinct(t *testing.T) {
	seen := map[string]bool{}
	for c := range 5000 {
		n := strings.ToLower(seed.DemoCompanyName(c))
		if seen[n] {
			t.Fatalf("company %d: name %q repeats", c, n)
		}
		seen[n] = true
	}
	for i := range 200 {
		d := seed.DemoContactAt(i)
		if e, err := store.NormalizeEmail(d.Email); err != nil || e != d.Email {
			t.Fatalf("demo contact %d: email %q invalid", i, d.Email)
		}
	}
}

// malformed has, by line: 1 header, 2 good, 3 missing field, 4 bad created_at, 5 bad email,
// 6 empty body, 7–9 a good quoted multi-line row, 10 bad channel, 11 CSV syntax error,
// 12 good, 13–14 good with an empty subject, 15 stage "Resolved", 16 subject too long.
var malformed = "\ufeffSubject, BODY ,created_at,requester_email,channel,Extra,stage\n" +
	`Hello,Body one,2024-05-01T09:30:00Z,Ann@Example.com,Chat,x,` + "\n" +
	`Short,only body,2024-05-01T09:30:00Z` + "\n" +
	`T,B,yesterday,,,,` + "\n" +
	`T,B,,not-an-email,,,` + "\n" +
	`T,"",,,,,` + "\n" +
	`Multi,"line one` + "\n" + `line two with <br> and <tel_num>, ü, ""quoted""` + "\n" + `line three",,ann@example.com,,,` + "\n" +
	`T,B,,,fax,,` + "\n" +
	`T,"B"x,,,,,` + "\n" +
	`After,ok after error,,,,,` + "\n" +
	`,"  First   line of the body, long enough that it has to be cut at a word boundary somewhere` + "\n" + `second",,,,,` + "\n" +
	`Done,fixed,,,,,Resolved` + "\n" +
	strings.Repeat("x", 501) + `,too long,,,,,` + "\n"

func TestTicketImportMalformed(t *testing.T) {
	ctx := context.Background()
	pool := storetest.NewDB(t)
	st := store.New(pool)
	var reported []int
	var bar strings.Builder
	sum, err := seed.New(st.Pool).TicketImport(ctx, strings.NewReader(malformed), seed.ImportOptions{
		Progress: &bar, Size: int64(len(malformed)),
		Report: func(line int, msg string) { reported = append(reported, line) }})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(bar.String(), "100%") {
		t.Errorf("progress output %q lacks 100%%", bar.String())
	}
	wantBad := map[int]string{3: "fields", 4: "created_at", 5: "requester_email", 6: "body is empty", 10: "channel", 11: "CSV", 16: "subject"}
	if sum.Rows != 12 || sum.Imported != 5 || sum.Bad != 7 || sum.Duplicates != 0 {
		t.Errorf("summary = %+v, want 12 rows, 5 imported, 7 bad", sum)
	}
	for _, b := range sum.BadRows {
		if w, ok := wantBad[b.Line]; !ok || !strings.Contains(b.Reason, w) {
			t.Errorf("bad row line %d: %q (want line in %v mentioning %q)", b.Line, b.Reason, wantBad, w)
		}
	}
	if !slices.Equal(reported, []int{3, 4, 5, 6, 10, 11, 16}) {
		t.Errorf("reported lines %v", reported)
	}
	wantMulti := "line one\nline two with <br> and <tel_num>, ü, \"quoted\"\nline three"
	var body, channel, convChannel, email string
	var props map[string]string
	var created time.Time
	if err := pool.QueryRow(ctx, `SELECT m.body, t.channel, cv.channel, c.email FROM tickets t
		JOIN conversations cv ON cv.ticket_id = t.id JOIN messages m ON m.ticket_id = t.id
		JOIN contacts c ON c.id = t.requester_id WHERE t.subject = 'Multi'`).Scan(&body, &channel, &convChannel, &email); err != nil {
		t.Fatal(err)
	}
	if body != wantMulti || channel != "email" || convChannel != "email" || email != "ann@example.com" {
		t.Errorf("multi-line row: %q %s %s %s", body, channel, convChannel, email)
	}
	if err := pool.QueryRow(ctx, `SELECT t.channel, t.properties, t.created_at FROM tickets t WHERE subject = 'Hello'`).
		Scan(&channel, &props, &created); err != nil {
		t.Fatal(err)
	}
	if channel != "chat" || !reflect.DeepEqual(props, map[string]string{"extra": "x"}) || !created.Equal(time.Date(2024, 5, 1, 9, 30, 0, 0, time.UTC)) {
		t.Errorf("Hello row: channel %q props %v created %v", channel, props, created)
	}
	var contacts int
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM contacts WHERE name = 'ann'`).Scan(&contacts); err != nil || contacts != 1 {
		t.Errorf("contacts named ann: %d, %v (want one, shared by two rows)", contacts, err)
	}
	var subject string
	if err := pool.QueryRow(ctx, `SELECT subject FROM tickets WHERE description LIKE '  First%'`).Scan(&subject); err != nil {
		t.Fatal(err)
	}
	if want := "First line of the body, long enough that it has to be cut at a word boundary…"; subject != want {
		t.Errorf("derived subject = %q, want %q", subject, want)
	}
	var stage string
	var closed bool
	var closedAt *time.Time
	if err := pool.QueryRow(ctx, `SELECT st.name, t.is_closed, t.closed_at FROM tickets t JOIN stages st ON st.id = t.stage_id
		WHERE t.subject = 'Done'`).Scan(&stage, &closed, &closedAt); err != nil {
		t.Fatal(err)
	}
	if stage != "Resolved" || !closed || closedAt == nil {
		t.Errorf("Done row: stage %q closed %v at %v", stage, closed, closedAt)
	}
}

func TestTicketImportMissingColumn(t *testing.T) {
	st := storetest.NewStore(t)
	_, err := seed.New(st.Pool).TicketImport(context.Background(), strings.NewReader("subject,answer\nx,y\n"), seed.ImportOptions{})
	if err == nil || !strings.Contains(err.Error(), `"body"`) {
		t.Errorf("err = %v, want one naming the body column", err)
	}
	_, err = seed.New(st.Pool).TicketImport(context.Background(), strings.NewReader(""), seed.ImportOptions{})
	if err == nil {
		t.Error("empty file: no error")
	}
}

func TestSubjectFromBody(t *testing.T) {
	for in, want := range map[string]string{
		"Short one\nsecond":           "Short one",
		`literal\nbreak`:              "literal",
		"\n\n  spaced   out  \n":      "spaced out",
		strings.Repeat("wörter ", 20): strings.TrimSpace(strings.Repeat("wörter ", 11)) + "…",
	} {
		if got := seed.SubjectFromBody(in); got != want {
			t.Errorf("SubjectFromBody(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestTicketImportLarge times a 20,400-row import built from the sample (each record repeated
// with a distinct extra column). It runs only with PORTICO_IMPORT_LARGE=1.
func TestTicketImportLarge(t *testing.T) {
	if os.Getenv("PORTICO_IMPORT_LARGE") == "" {
		t.Skip("set PORTICO_IMPORT_LARGE=1 to time a 20k-row import")
	}
	head, recs := readCSV(t, multilang)
	var b strings.Builder
	w := csv.NewWriter(&b)
	_ = w.Write(append(head, "copy"))
	for n := range 20400 / len(recs) {
		for _, r := range recs {
			_ = w.Write(append(slices.Clone(r), strconv.Itoa(n)))
		}
	}
	w.Flush()
	st := storetest.NewStore(t)
	start := time.Now()
	sum, err := seed.New(st.Pool).TicketImport(context.Background(), strings.NewReader(b.String()), seed.ImportOptions{DemoContacts: 400})
	if err != nil || sum.Imported != 20286 {
		t.Fatalf("summary %+v, %v", sum, err)
	}
	t.Logf("imported %d rows (%d bytes) in %v", sum.Imported, b.Len(), time.Since(start))
}
