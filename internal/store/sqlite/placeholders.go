package sqlite

import (
	"strconv"
	"strings"
	"sync"
)

// sqlstore writes its statements with numbered placeholders ($1, $2, …),
// which SQLite accepts as named parameters. But the driver binds a named
// parameter by asking SQLite for its name, a C string copied into Go for
// every parameter of every statement run: on the hot writes that was a
// fifth of the binding's allocations. So each statement is rewritten once,
// the first time it runs, to plain ? placeholders, together with the order
// its arguments go in (a $n used twice, or out of order, takes its
// argument twice, or elsewhere).

// positional is a statement rewritten to ? placeholders.
type positional struct {
	sql string
	// order[i] is the index in the caller's arguments of the i-th ?; nil
	// when the $n appear once each, in order, and the arguments go as they are.
	order []int
}

var rewritten sync.Map // statement text -> *positional

// toPositional returns query rewritten, from the cache after the first time.
func toPositional(query string) *positional {
	if p, ok := rewritten.Load(query); ok {
		return p.(*positional)
	}
	p := rewrite(query)
	rewritten.Store(query, p)
	return p
}

// rewrite turns each $n outside a quoted literal or identifier into ?.
func rewrite(query string) *positional {
	var b strings.Builder
	var order []int
	inOrder := true
	for i := 0; i < len(query); i++ {
		c := query[i]
		switch {
		case c == '\'' || c == '"':
			// Copy the literal or quoted name whole; a doubled quote
			// inside it ends it and starts it again, which is the same.
			j := strings.IndexByte(query[i+1:], c)
			if j < 0 {
				b.WriteString(query[i:])
				i = len(query)
				continue
			}
			b.WriteString(query[i : i+j+2])
			i += j + 1
		case c == '$' && i+1 < len(query) && query[i+1] >= '1' && query[i+1] <= '9':
			j := i + 1
			for j < len(query) && query[j] >= '0' && query[j] <= '9' {
				j++
			}
			n, _ := strconv.Atoi(query[i+1 : j])
			if n != len(order)+1 {
				inOrder = false
			}
			order = append(order, n-1)
			b.WriteByte('?')
			i = j - 1
		default:
			b.WriteByte(c)
		}
	}
	if inOrder {
		order = nil
	}
	return &positional{sql: b.String(), order: order}
}

// args returns the arguments in the order of the rewritten statement's ?.
// An argument a $n names past the end is left out, so the driver reports
// it missing.
func (p *positional) args(args []any) []any {
	if p.order == nil {
		return args
	}
	out := make([]any, 0, len(p.order))
	for _, i := range p.order {
		if i < len(args) {
			out = append(out, args[i])
		}
	}
	return out
}
