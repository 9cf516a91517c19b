package main

import (
	"strings"
	"testing"
	"time"

	"github.com/latchkey/latchkey/internal/workload"
)

// TestSoakSummary: the soak's table ends with how each curve moved after
// the warm-up and with each curve's range over the second half, where the
// lifetimes have turned the tables over.
func TestSoakSummary(t *testing.T) {
	t.Parallel()
	var samples []soakSample
	for i := range 6 {
		samples = append(samples, soakSample{
			At: time.Duration(i+1) * time.Minute, RSS: int64(100+i) << 20, DBSize: int64(50+min(i, 3)) << 20,
			Goroutines: 20 + i%2, Files: 30, Devices: 100 * (i + 1), Retired: 50 * i,
			P99: map[string]time.Duration{workload.OpRefresh: time.Duration(3+i%2) * time.Millisecond},
		})
	}
	md := soakMarkdown("sqlite", &soakOptions{workers: 8, rate: 150, duration: 6 * time.Minute, interval: time.Minute}, samples, workload.Totals{})
	for _, want := range []string{
		"From 2m0s to 6m0s: RSS 101.0 → 105.0 MiB, goroutines 20–21, open files 30–30, database 51.00 → 53.00 MiB (+5.1 KiB for each of the 400 devices enrolled meanwhile, while 200 were retired).",
		"From 4m0s to 6m0s: RSS 103.0–105.0 MiB, database 53.00–53.00 MiB, goroutines 20–21, open files 30–30, p99 device_flow 0–0 ms, p99 refresh 3–4 ms,",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("the summary lacks\n%s\nin\n%s", want, md)
		}
	}
}
