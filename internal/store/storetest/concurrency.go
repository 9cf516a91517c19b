package storetest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/latchkey/latchkey/internal/store"
)

// racers is how many goroutines race for one state change. Exactly one must
// win however the backend schedules them: on PostgreSQL several instances
// poll and redeem against the same rows.
const racers = 20

// rounds is how many times each race runs, on a fresh record each time: the
// first round on a new store often meets cold connection pools, where the
// first racer can finish before the others start and a lost update hides.
const rounds = 5

// race runs f(i) for i in [0, racers) at once and returns their errors.
func race(f func(i int) error) []error {
	errs := make([]error, racers)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range racers {
		wg.Go(func() {
			<-start
			errs[i] = f(i)
		})
	}
	close(start)
	wg.Wait()
	return errs
}

// oneWinner checks that exactly one of a race's errors is nil and every
// other is ErrConflict, and returns the winner's index. what names one
// attempt ("redemption"), plural all of them, for the messages.
func oneWinner(t *testing.T, what, plural string, errs []error) int {
	t.Helper()
	wins, conflicts, winner := 0, 0, -1
	for i, err := range errs {
		switch {
		case err == nil:
			wins++
			winner = i
		case errors.Is(err, store.ErrConflict):
			conflicts++
		default:
			t.Errorf("%s %d: %v", what, i, err)
		}
	}
	if wins != 1 || conflicts != racers-1 {
		t.Fatalf("%d concurrent %s: %d won, %d ErrConflict; want 1 and %d", racers, plural, wins, conflicts, racers-1)
	}
	return winner
}

// testConcurrentPollAndRedeem: polls of an approved code at the same
// instant take turns, so the first is on time (issue) and every other one
// slow_down, none lost; then of the redemptions racing for it exactly one
// wins, and only its grant and refresh token are stored.
func testConcurrentPollAndRedeem(t *testing.T, s store.Store) {
	c := mustCreateClient(t, s, "tv", true)
	mustCreateUser(t, s, "ada")
	for r := range rounds {
		a := mustCreateDeviceAuth(t, s, newDeviceAuth(c, r))
		a, err := s.DecideDeviceAuth(t.Context(), a.UserCodeHash, "ada", "", true, t0)
		if err != nil {
			t.Fatalf("DecideDeviceAuth: %v", err)
		}
		concurrentPoll(t, s, a)
		concurrentRedeem(t, s, a, r)
	}
}

func concurrentPoll(t *testing.T, s store.Store, a *store.DeviceAuth) {
	outcomes := make([]string, racers)
	errs := race(func(i int) error {
		res, err := s.PollDeviceAuth(t.Context(), a.DeviceCodeHash, "tv", true, t0)
		if err == nil {
			outcomes[i] = res.Outcome
		}
		return err
	})
	count := map[string]int{}
	for i, err := range errs {
		if err != nil {
			t.Errorf("poll %d: %v", i, err)
		}
		count[outcomes[i]]++
	}
	if count[store.PollIssue] != 1 || count[store.PollSlowDown] != racers-1 {
		t.Errorf("outcomes of %d concurrent polls = %v; want one %q, the rest %q",
			racers, count, store.PollIssue, store.PollSlowDown)
	}
	want := *a
	want.LastPollAt = t0
	want.Interval = a.Interval + (racers-1)*store.SlowDownStep // every slow_down counted
	diff(t, "authorization after the polls", &want, mustGetDeviceAuth(t, s, a.UserCodeHash))
}

func concurrentRedeem(t *testing.T, s store.Store, a *store.DeviceAuth, round int) {
	grants := make([]*store.Grant, racers)
	tokens := make([]*store.RefreshToken, racers)
	for i := range racers {
		grants[i] = newGrant(fmt.Sprintf("g%d-%d", round, i), "ada", "tv", t0)
		tokens[i] = newRefreshToken(fmt.Sprintf("rt%d-%d", round, i), grants[i].ID, at(time.Hour))
	}
	errs := race(func(i int) error {
		return s.RedeemDeviceAuth(t.Context(), a.DeviceCodeHash, grants[i], tokens[i], t0)
	})
	winner := oneWinner(t, "redemption", "redemptions", errs)
	got := mustGetDeviceAuth(t, s, a.UserCodeHash)
	if got.Status != store.DeviceConsumed || got.GrantID != grants[winner].ID {
		t.Errorf("authorization after the redemptions = %q, grant %q; want %q, the winner's grant %q",
			got.Status, got.GrantID, store.DeviceConsumed, grants[winner].ID)
	}
	for i := range racers {
		want := error(store.ErrNotFound)
		if i == winner {
			want = nil
		}
		_, err := s.GetGrant(t.Context(), grants[i].ID)
		wantErr(t, fmt.Sprintf("GetGrant of redemption %d's grant", i), err, want)
		_, err = s.GetRefreshToken(t.Context(), tokens[i].Hash)
		wantErr(t, fmt.Sprintf("GetRefreshToken of redemption %d's token", i), err, want)
	}
}

func testConcurrentDecide(t *testing.T, s store.Store) {
	c := mustCreateClient(t, s, "tv", true)
	mustCreateUser(t, s, "ada")
	mustCreateUser(t, s, "bob")
	for r := range rounds {
		concurrentDecide(t, s, mustCreateDeviceAuth(t, s, newDeviceAuth(c, r)))
	}
}

func concurrentDecide(t *testing.T, s store.Store, a *store.DeviceAuth) {
	winners := make([]*store.DeviceAuth, racers)
	errs := race(func(i int) error {
		user := []string{"ada", "bob"}[i%2]
		got, err := s.DecideDeviceAuth(t.Context(), a.UserCodeHash, user, "", i%2 == 0, t0)
		winners[i] = got
		return err
	})
	winner := winners[oneWinner(t, "decision", "decisions", errs)]
	diff(t, "stored authorization is the winner's", winner, mustGetDeviceAuth(t, s, a.UserCodeHash))
}

func testConcurrentRotateRefreshToken(t *testing.T, s store.Store) {
	g := grantFixture(t, s)
	for r := range rounds {
		concurrentRotateRefreshToken(t, s, mustCreateRefreshToken(t, s, newRefreshToken(fmt.Sprint("rt", r), g.ID, at(time.Hour))), r)
	}
}

// concurrentRotateRefreshToken: of the rotations racing for one token
// exactly one wins, and only its next token is stored.
func concurrentRotateRefreshToken(t *testing.T, s store.Store, rt *store.RefreshToken, round int) {
	next := make([]*store.RefreshToken, racers)
	for i := range racers {
		next[i] = newRefreshToken(fmt.Sprintf("rt%d-%d", round, i), rt.GrantID, rt.ExpiresAt)
	}
	errs := race(func(i int) error {
		_, err := s.RotateRefreshToken(t.Context(), rt.Hash, next[i].Hash, time.Time{}, t0, allow)
		return err
	})
	winner := oneWinner(t, "rotation", "rotations", errs)
	for i := range racers {
		want := error(store.ErrNotFound)
		if i == winner {
			want = nil
		}
		_, err := s.GetRefreshToken(t.Context(), next[i].Hash)
		wantErr(t, fmt.Sprintf("GetRefreshToken of rotation %d's next token", i), err, want)
	}
	old, err := s.GetRefreshToken(t.Context(), rt.Hash)
	wantErr(t, "GetRefreshToken of the rotated token", err, nil)
	if !old.UsedAt.Equal(t0) {
		t.Errorf("rotated token's UsedAt = %v, want %v", old.UsedAt, t0)
	}
}

// testConcurrentRotateRefusals: rotations of distinct tokens that run
// together (and so, where the store batches them, share a transaction),
// every other one refused by its check: the refused leave their token
// unused and store no successor, and the rest rotate.
func testConcurrentRotateRefusals(t *testing.T, s store.Store) {
	g := grantFixture(t, s)
	refusal := errors.New("refused by the check")
	for r := range rounds {
		olds := make([]*store.RefreshToken, racers)
		for i := range racers {
			olds[i] = mustCreateRefreshToken(t, s, newRefreshToken(fmt.Sprintf("rf%d-%d", r, i), g.ID, at(time.Hour)))
		}
		nextHash := func(i int) string { return fmt.Sprintf("rf%d-%d-next", r, i) }
		errs := race(func(i int) error {
			_, err := s.RotateRefreshToken(t.Context(), olds[i].Hash, nextHash(i), time.Time{}, t0, func(*store.RefreshFamily) error {
				if i%2 == 1 {
					return refusal
				}
				return nil
			})
			return err
		})
		for i, err := range errs {
			refused := i%2 == 1
			if refused {
				wantErr(t, fmt.Sprintf("refused rotation %d", i), err, refusal)
			} else {
				wantErr(t, fmt.Sprintf("rotation %d", i), err, nil)
			}
			old, err := s.GetRefreshToken(t.Context(), olds[i].Hash)
			wantErr(t, fmt.Sprintf("GetRefreshToken of token %d", i), err, nil)
			if err == nil && old.UsedAt.IsZero() != refused {
				t.Errorf("token %d: UsedAt = %v after a rotation refused=%v", i, old.UsedAt, refused)
			}
			_, err = s.GetRefreshToken(t.Context(), nextHash(i))
			if refused {
				wantErr(t, fmt.Sprintf("GetRefreshToken of refused rotation %d's next token", i), err, store.ErrNotFound)
			} else {
				wantErr(t, fmt.Sprintf("GetRefreshToken of rotation %d's next token", i), err, nil)
			}
		}
	}
}

func testConcurrentServerSecret(t *testing.T, s store.Store) {
	for r := range rounds {
		concurrentServerSecret(t, s, fmt.Sprint("cookie-key-", r))
	}
}

func concurrentServerSecret(t *testing.T, s store.Store, name string) {
	got := make([]string, racers)
	errs := race(func(i int) error {
		v, err := s.ServerSecret(t.Context(), name, []byte{'v', byte('a' + i)})
		got[i] = string(v)
		return err
	})
	for i, err := range errs {
		if err != nil {
			t.Errorf("ServerSecret %d: %v", i, err)
		}
	}
	if distinct := slices.Compact(slices.Sorted(slices.Values(got))); len(distinct) != 1 || len(got[0]) != 2 {
		t.Errorf("ServerSecret answers = %q; want one value for everybody", got)
	}
	again, err := s.ServerSecret(t.Context(), name, []byte("late"))
	wantErr(t, "ServerSecret", err, nil)
	if string(again) != got[0] {
		t.Errorf("ServerSecret after the race = %q, want %q", again, got[0])
	}
}

func testConcurrentHit(t *testing.T, s store.Store) {
	for r := range rounds {
		concurrentHit(t, s, fmt.Sprint("ip:192.0.2.", r))
	}
}

func concurrentHit(t *testing.T, s store.Store, key string) {
	counts := make([]int, racers)
	errs := race(func(i int) error {
		n, err := s.Hit(t.Context(), key, t0, at(time.Hour))
		counts[i] = n
		return err
	})
	for i, err := range errs {
		if err != nil {
			t.Errorf("Hit %d: %v", i, err)
		}
	}
	want := make([]int, racers)
	for i := range want {
		want[i] = i + 1
	}
	slices.Sort(counts)
	diff(t, "counts returned by concurrent hits, sorted", want, counts)
	n, err := s.Count(t.Context(), key, t0)
	wantErr(t, "Count", err, nil)
	if n != racers {
		t.Errorf("Count after %d hits = %d", racers, n)
	}
}

// testConcurrentAdd: instances adding what each counted at once, while
// others Hit, lose nothing, and each sees a distinct total.
func testConcurrentAdd(t *testing.T, s store.Store) {
	for r := range rounds {
		key := fmt.Sprint("token:client:", r)
		totals := make([]int, racers)
		errs := race(func(i int) error {
			var err error
			if i%2 == 0 {
				totals[i], err = s.Hit(t.Context(), key, t0, at(time.Hour))
			} else {
				totals[i], err = s.Add(t.Context(), key, t0, at(time.Hour), 10)
			}
			return err
		})
		for i, err := range errs {
			if err != nil {
				t.Errorf("racer %d: %v", i, err)
			}
		}
		want := 0
		for i := range racers {
			want += 1 + 9*(i%2)
		}
		slices.Sort(totals)
		if len(slices.Compact(slices.Clone(totals))) != racers {
			t.Errorf("totals returned by concurrent adds are not distinct: %v", totals)
		}
		if totals[racers-1] != want {
			t.Errorf("the largest total returned = %d, want %d", totals[racers-1], want)
		}
		n, err := s.Count(t.Context(), key, t0)
		wantErr(t, "Count", err, nil)
		if n != want {
			t.Errorf("Count after the adds = %d, want %d", n, want)
		}
	}
}

// testConcurrentCreateDeviceAuth: devices that drew the same user code at
// once, on any number of instances, get exactly one winner; every other
// request is ErrConflict (its caller draws a new code), never another error.
func testConcurrentCreateDeviceAuth(t *testing.T, s store.Store) {
	c := mustCreateClient(t, s, "tv", true)
	for r := range rounds {
		shared := fmt.Sprint("shared-user-code-hash-", r)
		devices := make([]string, racers)
		errs := race(func(i int) error {
			a := newDeviceAuth(c, r*racers+i)
			a.UserCodeHash = shared
			devices[i] = a.DeviceCodeHash
			return s.CreateDeviceAuth(t.Context(), a)
		})
		winner := devices[oneWinner(t, "create", "creates with one user code", errs)]
		if got := mustGetDeviceAuth(t, s, shared).DeviceCodeHash; got != winner {
			t.Errorf("stored authorization's device code hash = %q, want the winner's %q", got, winner)
		}
	}
}

// testGivenUpHits: callers that give up on their hits while the batch is
// in flight (a request's deadline, a shutdown's flush) get an error or a
// total, and the store writes nothing of theirs after they returned (the
// race detector watches the totals); the hits of callers that waited are
// all counted.
func testGivenUpHits(t *testing.T, s store.Store) {
	for r := range rounds {
		givenUpHits(t, s, fmt.Sprint("ip:198.51.100.", r))
	}
}

func givenUpHits(t *testing.T, s store.Store, key string) {
	var kept atomic.Int64
	errs := race(func(i int) error {
		ctx, cancel := context.WithTimeout(t.Context(), time.Duration(i%8)*50*time.Microsecond)
		defer cancel()
		if i%4 == 0 {
			ctx = t.Context()
		}
		total, err := s.Add(ctx, key, t0, at(time.Hour), 1)
		switch {
		case err == nil:
			kept.Add(1)
			if total < 1 {
				return fmt.Errorf("total %d after a counted hit", total)
			}
		case i%4 == 0:
			return err
		case !errors.Is(err, context.DeadlineExceeded):
			return err
		}
		return nil
	})
	for i, err := range errs {
		if err != nil {
			t.Errorf("racer %d: %v", i, err)
		}
	}
	n, err := s.Count(t.Context(), key, t0)
	wantErr(t, "Count", err, nil)
	// A given-up hit may have committed all the same; a kept one must have.
	if n < int(kept.Load()) || n > racers {
		t.Errorf("Count after %d answered hits of %d = %d", kept.Load(), racers, n)
	}
}
