package store

import "testing"

// SetSearchLimits sets the search-plan thresholds for one test.
func SetSearchLimits(t *testing.T, walkScope, direct int) {
	oldW, oldD := searchWalkScope, searchDirectLimit
	searchWalkScope, searchDirectLimit = walkScope, direct
	t.Cleanup(func() { searchWalkScope, searchDirectLimit = oldW, oldD })
}
