package store

import (
	"strconv"
	"strings"
)

// listQuery is the one small query builder of the dynamic, keyset-paged listings (the customer
// ticket list, its search and the admin preview through TicketListForViewer, and the agent
// inbox): sqlc cannot express them, because their WHERE clause, ORDER BY column and direction
// depend on the request (sort key, cursor direction, Viewer scope, admin ticket filters,
// search plan). Every value is a positional parameter ($n, via arg); only fixed SQL fragments
// written in this package are concatenated, never user input.
type listQuery struct {
	args  []any
	where []string
}

// arg adds v as the next parameter and returns its placeholder ("$3").
func (q *listQuery) arg(v any) string {
	q.args = append(q.args, v)
	return "$" + strconv.Itoa(len(q.args))
}

// and adds a predicate (a fixed fragment whose values went through arg).
func (q *listQuery) and(pred string) { q.where = append(q.where, pred) }

// scope adds the Viewer's list predicate: requester or company by view, and the admin's ticket
// filters (Viewer.scope).
func (q *listQuery) scope(v Viewer) { q.and(v.scope(&q.args)) }

// keyset orders by (expr, t.id) and, with a cursor, starts after (or, reading backwards, before)
// its position; typ is expr's SQL type, to which the cursor's key is cast. desc is the sort's
// own direction. It returns the ORDER BY clause.
func (q *listQuery) keyset(expr, typ string, desc bool, cur cursor, hasCur bool) string {
	// Reading forward in a descending sort, or backward in an ascending one, walks down the keys.
	down := desc != (hasCur && cur.before)
	order, cmp := "ASC", ">"
	if down {
		order, cmp = "DESC", "<"
	}
	if hasCur {
		q.and("(" + expr + ", t.id) " + cmp + " (" + q.arg(cur.key) + "::" + typ + ", " + q.arg(cur.id) + ")")
	}
	return "ORDER BY " + expr + " " + order + ", t.id " + order
}

// sql completes selectFrom (SELECT … FROM … JOIN …) with the predicates, orderBy (from keyset)
// and a LIMIT of limit+1 rows (the extra row tells whether there is a next page).
func (q *listQuery) sql(selectFrom, orderBy string, limit int) string {
	where := "true"
	if len(q.where) > 0 {
		where = strings.Join(q.where, " AND ")
	}
	return selectFrom + "\n\t\tWHERE " + where + "\n\t\t" + orderBy + " LIMIT " + q.arg(limit+1)
}

// keysetPage turns the limit+1 rows a keyset query read into one page: it drops the extra row,
// restores the display order when the cursor read backwards, and returns the cursors of the
// next and previous pages ("" = none) for sort. key returns a row's sort value and id.
func keysetPage[T any](rows []T, limit int, sort string, cur cursor, hasCur bool, key func(T) (string, int64)) ([]T, string, string) {
	more := len(rows) > limit
	if more {
		rows = rows[:limit]
	}
	backwards := hasCur && cur.before
	if backwards {
		for i, j := 0, len(rows)-1; i < j; i, j = i+1, j-1 {
			rows[i], rows[j] = rows[j], rows[i]
		}
	}
	var next, prev string
	if len(rows) > 0 {
		if more || backwards {
			k, id := key(rows[len(rows)-1])
			next = cursor{sort: sort, key: k, id: id}.String()
		}
		if hasCur && (!cur.before || more) {
			k, id := key(rows[0])
			prev = cursor{before: true, sort: sort, key: k, id: id}.String()
		}
	}
	return rows, next, prev
}
