package store

import "testing"

// SetSearchLimits sets the search-plan thresholds for one test.
func SetSearchLimits(t *testing.T, walkScope, direct int) {
	oldW, oldD := searchWalkScope, searchDirectLimit
	searchWalkScope, searchDirectLimit = walkScope, direct
	t.Cleanup(func() { searchWalkScope, searchDirectLimit = oldW, oldD })
}

// SetSearchTrace has fn see each query of a search (its plan's name, SQL and arguments) before
// it runs, for one test.
func SetSearchTrace(t *testing.T, fn func(name, sql string, args []any)) {
	traceQuery = fn
	t.Cleanup(func() { traceQuery = nil })
}
