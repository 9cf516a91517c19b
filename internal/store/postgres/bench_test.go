package postgres_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/latchkey/latchkey/internal/store"
	"github.com/latchkey/latchkey/internal/store/postgres/pgtest"
	"github.com/latchkey/latchkey/internal/store/storetest"
)

func BenchmarkStore(b *testing.B) {
	storetest.Bench(b, func(t testing.TB) store.Store { return pgtest.Open(t) })
}

// BenchmarkStoreSerial measures the batched writes (batch.go) with one
// caller at a time: under no load a batch holds one write, and it must go
// out at once, no slower than the statement alone did.
func BenchmarkStoreSerial(b *testing.B) {
	t0 := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	open := func(b *testing.B) store.Store {
		s := pgtest.Open(b)
		if err := s.CreateClient(b.Context(), &store.Client{ID: "tv", AuthMethod: store.AuthNone}); err != nil {
			b.Fatal(err)
		}
		return s
	}
	auth := func(i int) *store.DeviceAuth {
		return &store.DeviceAuth{DeviceCodeHash: fmt.Sprintf("device-%d", i), UserCodeHash: fmt.Sprintf("user-%d", i),
			ClientID: "tv", ClientPublic: true, Status: store.DevicePending, Interval: 5 * time.Second,
			CreatedAt: t0, ExpiresAt: t0.Add(1000 * time.Hour)}
	}
	b.Run("CreateDeviceAuth", func(b *testing.B) {
		s := open(b)
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			if err := s.CreateDeviceAuth(b.Context(), auth(i)); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("PollDeviceAuth/pending", func(b *testing.B) {
		s := open(b)
		const codes = 100
		for i := range codes {
			if err := s.CreateDeviceAuth(b.Context(), auth(i)); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			now := t0.Add(time.Duration(i/codes+1) * 6 * time.Second)
			res, err := s.PollDeviceAuth(b.Context(), fmt.Sprintf("device-%d", i%codes), "tv", true, now)
			if err != nil || res.Outcome != store.PollPending {
				b.Fatalf("PollDeviceAuth = %+v, %v; want pending", res, err)
			}
		}
	})
	b.Run("Hit", func(b *testing.B) {
		s := open(b)
		b.ReportAllocs()
		for b.Loop() {
			if _, err := s.Hit(b.Context(), "bench", t0, t0.Add(time.Hour)); err != nil {
				b.Fatal(err)
			}
		}
	})
}
