package sqlstore

import (
	"testing"

	"github.com/latchkey/latchkey/internal/store"
)

// The destination slices are sized by these counts: a column added to the
// query without them would cost every rotation a slice grown again.
func TestFamilyColumnCounts(t *testing.T) {
	t.Parallel()
	if got := topLevelItems(FamilyColumns); got != familyCols {
		t.Errorf("FamilyColumns has %d columns, familyCols says %d", got, familyCols)
	}
	if got := len(grantDest(&store.Grant{})); got != grantCols {
		t.Errorf("grantDest scans %d columns, grantCols says %d", got, grantCols)
	}
}

// topLevelItems counts the comma-separated items of a select list, not
// counting the commas inside a function's parentheses (as in COALESCE(u.email, "")).
func topLevelItems(list string) int {
	n, depth := 1, 0
	for _, c := range list {
		switch c {
		case '(':
			depth++
		case ')':
			depth--
		case ',':
			if depth == 0 {
				n++
			}
		}
	}
	return n
}
