package sqlite

import (
	"hash/maphash"
	"sync"
	"time"

	"github.com/latchkey/latchkey/internal/store"
)

// pollBook remembers when each device code was last polled and the interval
// its client must keep: the soft state of RFC 8628 §3.5 polling, which
// PollDeviceAuth keeps here, in memory, instead of in device_authorizations.
//
// Why: a pending poll then writes nothing. Written to the file, each poll
// dirtied the page its row is on; among a million waiting devices no two
// polls share a page, so every poll read a page back and wrote a WAL frame
// of it, through the one writer: polls among a million codes ran at 0.63 of
// the rate among a thousand (BENCHMARKS.md). Now a pending poll is one
// indexed SELECT on a reader connection, in parallel with the others.
//
// A SQLite store serves one process (several instances share PostgreSQL),
// so the book needs no sharing. It is fixed in size, so memory does not grow
// with the number of codes: pollSets sets of pollWays entries (about 6 MiB,
// allocated at the first poll), each set under its own lock. A code maps to
// one set; when the set is full, the entry polled longest ago makes room.
// Forgetting a code can only cost a slow_down, never add one: its next poll
// counts as its first, and its interval is back to the one it was issued
// with. The codes that lose their entry are the ones polling slowest; one
// polling too fast keeps its entry, because it keeps using it, and is slowed
// down. One SQLite instance answers some 13,000 polls a second, so at a 5 s
// interval about 65,000 codes can be polling at once; with codes spread at
// random, among 75,000 none is in a set with more than 16, and among 150,000
// about 2.5% are (in such a set codes polling at the same pace push each
// other out, and every poll of theirs counts as a first). A restart forgets
// everything, the same way.
type pollBook struct {
	seed  maphash.Seed
	alloc sync.Once
	sets  []pollSet // nil until the first poll: CLI commands never poll
}

const (
	pollSets = 1 << 14
	pollWays = 16
)

type pollSet struct {
	mu      sync.Mutex
	entries [pollWays]pollEntry
}

type pollEntry struct {
	key      uint64 // 0 for an empty entry
	last     int64  // when the code was last polled, Unix milliseconds
	interval int64  // the interval the client must keep, milliseconds
}

func newPollBook() *pollBook {
	return &pollBook{seed: maphash.MakeSeed()}
}

// key is the book's key for a device code hash; never 0.
func (p *pollBook) key(deviceCodeHash string) uint64 {
	return maphash.String(p.seed, deviceCodeHash) | 1
}

// set is key's set, the book being made at its first use.
func (p *pollBook) set(key uint64) *pollSet {
	p.alloc.Do(func() { p.sets = make([]pollSet, pollSets) })
	return &p.sets[(key>>1)%pollSets]
}

// poll decides a poll of a (as read just now) at now, records it, and sets
// a.LastPollAt and a.Interval to what they are after it. The order of the
// rules is PostgreSQL's pollOutcome (and storetest holds both to it):
// expired, used, slow_down, then the status. It returns "" for a status it
// does not know. Concurrent polls of one code take turns on its set's lock,
// so each sees the poll before it.
func (p *pollBook) poll(a *store.DeviceAuth, now time.Time) string {
	key := p.key(a.DeviceCodeHash)
	s := p.set(key)
	nowMs := now.UnixMilli()
	s.mu.Lock()
	defer s.mu.Unlock()
	e := s.find(key)
	known := e != nil
	if !known {
		e = s.evict()
		*e = pollEntry{key: key, interval: a.Interval.Milliseconds()}
	}
	var outcome string
	switch {
	case nowMs >= a.ExpiresAt.UnixMilli():
		outcome = store.PollExpired
	case a.Status == store.DeviceConsumed:
		outcome = store.PollUsed
	case known && nowMs < e.last+e.interval-min(store.PollTolerance.Milliseconds(), e.interval/5):
		outcome = store.PollSlowDown
		e.interval += store.SlowDownStep.Milliseconds()
	case a.Status == store.DevicePending:
		outcome = store.PollPending
	case a.Status == store.DeviceDenied:
		outcome = store.PollDenied
	case a.Status == store.DeviceApproved:
		outcome = store.PollIssue
	}
	e.last = nowMs
	a.LastPollAt, a.Interval = time.UnixMilli(nowMs).UTC(), time.Duration(e.interval)*time.Millisecond
	return outcome
}

// show sets a.LastPollAt and a.Interval from the book, if it has a's code.
func (p *pollBook) show(a *store.DeviceAuth) {
	key := p.key(a.DeviceCodeHash)
	s := p.set(key)
	s.mu.Lock()
	defer s.mu.Unlock()
	if e := s.find(key); e != nil {
		a.LastPollAt, a.Interval = time.UnixMilli(e.last).UTC(), time.Duration(e.interval)*time.Millisecond
	}
}

func (s *pollSet) find(key uint64) *pollEntry {
	for i := range s.entries {
		if s.entries[i].key == key {
			return &s.entries[i]
		}
	}
	return nil
}

// evict returns an empty entry, or else the one polled longest ago.
func (s *pollSet) evict() *pollEntry {
	oldest := &s.entries[0]
	for i := range s.entries {
		e := &s.entries[i]
		if e.key == 0 {
			return e
		}
		if e.last < oldest.last {
			oldest = e
		}
	}
	return oldest
}
