package handlers

import (
	"html/template"
	"unicode/utf8"
	"unsafe"
)

// listRowsHTML renders the <tbody> rows of tickets/list.html once, in Go, as one ready string:
// html/template pays reflection and an escaper call for every action, and a 25-row listing
// had about 12 actions a row, the largest cost of a list request (issue 18). The output is
// byte for byte what the template's range produced: every value goes through escapeHTML,
// which escapes exactly the characters html/template's HTML and attribute escapers do, so the
// markup is as safe as the contextually escaped one. Href is a fixed path prefix and a number.
// rowLabels name the columns inside the cells (data-label), for the stacked cards that the list
// becomes on phones (portico.css) where the header row is not beside the values.
type rowLabels struct {
	Requester, Created, Owner, Activity, Status string
}

func listRowsHTML(rows []listRow, l rowLabels) template.HTML {
	if len(rows) == 0 {
		return ""
	}
	// The markup between the values, with the column labels escaped once, not once a row.
	seg := func(parts ...string) string {
		var b []byte
		for i, p := range parts {
			if i%2 == 0 {
				b = append(b, p...)
			} else {
				b = escapeHTML(b, p)
			}
		}
		return string(b)
	}
	var (
		open      = `<tr><td class="cell-subject"><a href="`
		subject   = `">`
		requester = seg(`</a></td><td class="cell-requester" data-label="`, l.Requester, `">`)
		created   = seg(`</td><td class="cell-date" data-label="`, l.Created, `"><time datetime="`)
		timeText  = `">`
		owner     = seg(`</time></td><td class="cell-owner" data-label="`, l.Owner, `">`)
		activity  = seg(`</td><td class="cell-date" data-label="`, l.Activity, `"><time datetime="`)
		status    = seg(`</time></td><td class="cell-status" data-label="`, l.Status, `"><span class="status status-`)
		closing   = "</span></td></tr>\n"
	)
	fixed := len(open) + len(subject) + len(requester) + len(created) + 2*len(timeText) + len(owner) + len(activity) + len(status) + len(timeText) + len(closing)
	size := 0
	for i := range rows {
		r := &rows[i]
		size += fixed + len(r.Href) + len(r.Subject) + len(r.Requester) + len(r.CreatedISO) + len(r.Created) + len(r.Owner) +
			len(r.ActivityISO) + len(r.Activity) + len(r.StatusClass) + len(r.Status)
	}
	b := make([]byte, 0, size+size/8) // room for the few characters escaping lengthens
	for i := range rows {
		r := &rows[i]
		b = append(b, open...)
		b = escapeHTML(b, r.Href)
		b = append(b, subject...)
		b = escapeHTML(b, r.Subject)
		b = append(b, requester...)
		b = escapeHTML(b, r.Requester)
		b = append(b, created...)
		b = escapeHTML(b, r.CreatedISO)
		b = append(b, timeText...)
		b = escapeHTML(b, r.Created)
		b = append(b, owner...)
		b = escapeHTML(b, r.Owner)
		b = append(b, activity...)
		b = escapeHTML(b, r.ActivityISO)
		b = append(b, timeText...)
		b = escapeHTML(b, r.Activity)
		b = append(b, status...)
		b = escapeHTML(b, r.StatusClass)
		b = append(b, timeText...)
		b = escapeHTML(b, r.Status)
		b = append(b, closing...)
	}
	// b is never written again: the string shares its bytes instead of copying them.
	return template.HTML(unsafe.String(unsafe.SliceData(b), len(b)))
}

// columnsHTML renders the heading cells of tickets/list.html once, in Go, for the same reason
// as listRowsHTML: six columns of six template actions each were the largest template cost of a
// listing after the rows. Byte for byte what the template's range produced (parity test): the
// labels, the aria-sort values and the keys are escaped as text and attribute values; Href is
// listState.query's output (only unreserved characters, %XX and ?&=+ of a query string), which
// html/template's URL normalizer leaves as it is before escaping the attribute.
func columnsHTML(cols []column) template.HTML {
	b := make([]byte, 0, len(cols)*200)
	for i := range cols {
		c := &cols[i]
		b = append(b, `<th scope="col" aria-sort="`...)
		b = escapeHTML(b, c.AriaSort)
		b = append(b, `"><a href="`...)
		b = escapeHTML(b, c.Href)
		b = append(b, `" hx-get="`...)
		b = escapeHTML(b, c.Href)
		b = append(b, `" class="sort-link" id="sort-`...)
		b = escapeHTML(b, c.Key)
		b = append(b, `">`...)
		b = escapeHTML(b, c.Label)
		b = append(b, "</a></th>\n"...)
	}
	return template.HTML(b)
}

// escapeHTML appends s to b escaped as html/template escapes text and quoted attribute values
// (its htmlReplacementTable): NUL becomes U+FFFD, and " & ' + < > their character references.
// Invalid UTF-8 is copied as is, as html/template does.
func escapeHTML(b []byte, s string) []byte {
	last := 0
	for i := 0; i < len(s); i++ {
		var rep string
		switch s[i] {
		case 0:
			rep = string(utf8.RuneError)
		case '"':
			rep = "&#34;"
		case '&':
			rep = "&amp;"
		case '\'':
			rep = "&#39;"
		case '+':
			rep = "&#43;"
		case '<':
			rep = "&lt;"
		case '>':
			rep = "&gt;"
		default:
			continue
		}
		b = append(b, s[last:i]...)
		b = append(b, rep...)
		last = i + 1
	}
	return append(b, s[last:]...)
}
