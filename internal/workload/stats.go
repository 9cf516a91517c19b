package workload

import (
	"slices"
	"sync"
	"time"
)

// Stats counts the operations of the load and their latencies. Window
// hands out what happened since the last call (the soak's minutes); the
// totals stay.
type Stats struct {
	mu       sync.Mutex
	ops      map[string]int
	wrong    map[string]int
	lost     int
	firstErr string
	lat      map[string][]time.Duration // of operations since the last Window, by kind
}

// Totals are the counts over every Run.
type Totals struct {
	Ops      map[string]int // successful operations by kind
	Wrong    map[string]int // wrong answers by kind
	Lost     int            // operations cut short by a request without an answer
	FirstErr string         // the first wrong answer, to show
}

// OK is the number of successful operations.
func (t Totals) OK() int { return sum(t.Ops) }

// Errors is the number of wrong answers.
func (t Totals) Errors() int { return sum(t.Wrong) }

func sum(m map[string]int) int {
	n := 0
	for _, v := range m {
		n += v
	}
	return n
}

func (s *Stats) record(op string, d time.Duration, err error, lost bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ops == nil {
		s.ops, s.wrong = map[string]int{}, map[string]int{}
	}
	switch {
	case lost:
		s.lost++
	case err != nil:
		s.wrong[op]++
		if s.firstErr == "" {
			s.firstErr = op + ": " + err.Error()
		}
	default:
		s.ops[op]++
		if s.lat == nil {
			s.lat = map[string][]time.Duration{}
		}
		s.lat[op] = append(s.lat[op], d)
	}
}

// Totals returns the counts so far.
func (s *Stats) Totals() Totals {
	s.mu.Lock()
	defer s.mu.Unlock()
	t := Totals{Ops: map[string]int{}, Wrong: map[string]int{}, Lost: s.lost, FirstErr: s.firstErr}
	for k, v := range s.ops {
		t.Ops[k] = v
	}
	for k, v := range s.wrong {
		t.Wrong[k] = v
	}
	return t
}

// Latency is a window's successful operations of one kind.
type Latency struct {
	N        int
	P50, P99 time.Duration
}

// Window returns the operations that succeeded since the last call, by
// kind, with their 50th and 99th percentile latencies.
func (s *Stats) Window() map[string]Latency {
	s.mu.Lock()
	lat := s.lat
	s.lat = nil
	s.mu.Unlock()
	out := map[string]Latency{}
	for op, l := range lat {
		slices.Sort(l)
		at := func(q float64) time.Duration { return l[min(len(l)-1, int(q*float64(len(l))))] }
		out[op] = Latency{N: len(l), P50: at(0.50), P99: at(0.99)}
	}
	return out
}
