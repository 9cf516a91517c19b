package main

import (
	"bytes"
	"context"
	"errors"
	"math"
	"net/http"
	"slices"
	"sort"
	"sync"
	"sync/atomic"
	"time"
)

// job is one worker's source of requests in one scenario.
type job interface {
	// next returns the next request. It may wait first (a poller keeping
	// to the polling interval); that time counts against throughput, not
	// latency. errStop ends the worker.
	next(ctx context.Context) (*http.Request, error)
	// judge says how to count an answer and whether it is a correct one.
	// It is called after every request; status 0 means the request failed
	// in transport (the label is then ignored).
	judge(status int, body []byte) (label string, ok bool)
}

// errStop is what a job returns from next when it has nothing left to send.
var errStop = errors.New("worker has nothing left to send")

// result is what one run measured.
type result struct {
	Requests  int             // answered or failed, started in the measured window
	Errors    int             // transport errors and wrong answers among them
	Elapsed   time.Duration   // the measured window
	Latencies []time.Duration // sorted
	Labels    map[string]int  // answers by label ("400 authorization_pending", "transport error", ...)
	Waited    time.Duration   // summed over workers: time jobs spent waiting to send
	Workers   int
	FirstErr  string // one wrong answer, to show
}

// Rate is requests per second over the measured window.
func (r *result) Rate() float64 {
	if r.Elapsed <= 0 {
		return 0
	}
	return float64(r.Requests) / r.Elapsed.Seconds()
}

// WaitShare is the share of worker time spent waiting rather than sending.
func (r *result) WaitShare() float64 {
	if r.Elapsed <= 0 || r.Workers == 0 {
		return 0
	}
	return r.Waited.Seconds() / (r.Elapsed.Seconds() * float64(r.Workers))
}

// Phases of a run.
const (
	phaseWarmup int32 = iota
	phaseMeasure
	phaseStop
)

// window is the measured part of a run, shared by its workers.
type window struct {
	phase      atomic.Int32
	start, end atomic.Int64 // Unix nanoseconds; 0 until reached
}

// overlap is how much of [from, to] lies in the measured window.
func (w *window) overlap(from, to time.Time) time.Duration {
	start, end := w.start.Load(), w.end.Load()
	if start == 0 {
		return 0
	}
	lo := max(from.UnixNano(), start)
	hi := to.UnixNano()
	if end != 0 {
		hi = min(hi, end)
	}
	return time.Duration(max(hi-lo, 0))
}

// workerStats is one worker's record, merged when the run ends.
type workerStats struct {
	lat      []time.Duration
	labels   map[string]int
	errors   int
	waited   time.Duration
	firstErr string
}

// runLoad drives jobs, one closed-loop worker each, for warmup (not
// recorded) and then duration. A request counts if it was sent in the
// measured window. measuring, unless nil, is called as the window opens.
func runLoad(ctx context.Context, jobs []job, warmup, duration time.Duration, measuring func()) *result {
	w := &window{}
	stats := make([]workerStats, len(jobs))
	var wg sync.WaitGroup
	for i, j := range jobs {
		wg.Go(func() { work(ctx, j, w, &stats[i]) })
	}
	sleep(ctx, warmup)
	start := time.Now()
	w.start.Store(start.UnixNano())
	w.phase.Store(phaseMeasure)
	if measuring != nil {
		measuring()
	}
	sleep(ctx, duration)
	end := time.Now()
	w.end.Store(end.UnixNano())
	w.phase.Store(phaseStop)
	elapsed := end.Sub(start)
	wg.Wait()

	r := &result{Elapsed: elapsed, Labels: map[string]int{}, Workers: len(jobs)}
	for _, s := range stats {
		r.Latencies = append(r.Latencies, s.lat...)
		r.Errors += s.errors
		r.Waited += s.waited
		for l, n := range s.labels {
			r.Labels[l] += n
		}
		if r.FirstErr == "" {
			r.FirstErr = s.firstErr
		}
	}
	r.Requests = len(r.Latencies)
	slices.Sort(r.Latencies)
	return r
}

func work(ctx context.Context, j job, w *window, s *workerStats) {
	// Each worker has its own transport: one keep-alive connection, as a
	// separate client would have, and no contention on a shared pool.
	tr := &http.Transport{
		MaxIdleConns:        16,
		MaxIdleConnsPerHost: 16,
		IdleConnTimeout:     90 * time.Second,
		DisableCompression:  true,
	}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr, Timeout: 30 * time.Second}
	s.labels = map[string]int{}
	s.lat = make([]time.Duration, 0, 1<<14)
	var body bytes.Buffer
	for ctx.Err() == nil && w.phase.Load() != phaseStop {
		w0 := time.Now()
		req, err := j.next(ctx)
		t0 := time.Now()
		// Time a job waits to send (pacing) is time the worker does not
		// load the server: count it wherever it overlaps the window.
		s.waited += w.overlap(w0, t0)
		if err != nil {
			return // errStop, or the context ended
		}
		// A request counts in the phase it is sent in.
		p := w.phase.Load()
		if p == phaseStop {
			return
		}
		label, ok := "", false
		body.Reset()
		resp, err := client.Do(req)
		if err == nil {
			_, err = body.ReadFrom(resp.Body)
			resp.Body.Close()
		}
		if err != nil {
			j.judge(0, nil) // lets the job settle what it sent
			label = transportError
		} else {
			label, ok = j.judge(resp.StatusCode, body.Bytes())
		}
		took := time.Since(t0)
		if p != phaseMeasure {
			continue
		}
		s.lat = append(s.lat, took)
		s.labels[label]++
		if !ok {
			s.errors++
			if s.firstErr == "" {
				s.firstErr = label
				if err != nil {
					s.firstErr += ": " + err.Error()
				} else if body.Len() > 0 {
					s.firstErr += ": " + shorten(body.String(), 200)
				}
			}
		}
	}
}

func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
}

// percentile is the nearest-rank p-th percentile (0 < p <= 100) of sorted.
func percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	rank := int(math.Ceil(p / 100 * float64(len(sorted))))
	rank = min(max(rank, 1), len(sorted))
	return sorted[rank-1]
}

// median is the middle of xs, or the mean of the two middle values.
func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Clone(xs)
	sort.Float64s(s)
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}

// mergeSorted pools the latencies of several runs.
func mergeSorted(runs []*result) []time.Duration {
	var all []time.Duration
	for _, r := range runs {
		all = append(all, r.Latencies...)
	}
	slices.Sort(all)
	return all
}

func shorten(s string, n int) string {
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}
