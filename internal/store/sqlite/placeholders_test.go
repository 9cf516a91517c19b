package sqlite

import (
	"slices"
	"testing"
)

func TestRewritePlaceholders(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name, in, want string
		args, wantArgs []any
	}{
		{"in order", `UPDATE t SET a = $1 WHERE b = $2`, `UPDATE t SET a = ? WHERE b = ?`,
			[]any{"x", "y"}, []any{"x", "y"}},
		{"used twice", `UPDATE t SET a = $1 WHERE b = $2 AND c > $1`, `UPDATE t SET a = ? WHERE b = ? AND c > ?`,
			[]any{1, 2}, []any{1, 2, 1}},
		{"out of order", `SET s = $2 WHERE k = $1`, `SET s = ? WHERE k = ?`,
			[]any{"k", "s"}, []any{"s", "k"}},
		{"two digits", `VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)`, `VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			[]any{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11}, []any{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11}},
		{"inside a literal", `WHERE a = '$1' AND b = $1`, `WHERE a = '$1' AND b = ?`,
			[]any{"v"}, []any{"v"}},
		{"doubled quote", `WHERE a = 'it''s $1' AND b = $1`, `WHERE a = 'it''s $1' AND b = ?`,
			[]any{"v"}, []any{"v"}},
		{"quoted name", `SELECT "$1" FROM t WHERE c = $1`, `SELECT "$1" FROM t WHERE c = ?`,
			[]any{"v"}, []any{"v"}},
		{"not a placeholder", `SELECT '$' || $1, $0`, `SELECT '$' || ?, $0`,
			[]any{"v"}, []any{"v"}},
		{"unterminated literal", `SELECT $1, 'abc`, `SELECT ?, 'abc`,
			[]any{"v"}, []any{"v"}},
		{"missing argument left out", `SELECT $2, $1`, `SELECT ?, ?`,
			[]any{"a"}, []any{"a"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			p := rewrite(tt.in)
			if p.sql != tt.want {
				t.Errorf("rewrite(%q) = %q, want %q", tt.in, p.sql, tt.want)
			}
			if got := p.args(tt.args); !slices.Equal(got, tt.wantArgs) {
				t.Errorf("args(%v) = %v, want %v", tt.args, got, tt.wantArgs)
			}
		})
	}
}
