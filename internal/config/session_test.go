package config

import (
	"strings"
	"testing"
	"time"
)

func TestSessionIdleTimeout(t *testing.T) {
	t.Parallel()
	if got := Default().Session.IdleTimeout.D(); got != 2*time.Hour {
		t.Errorf("default session.idle_timeout = %s; want 2h", got)
	}
	for _, tt := range []struct {
		name    string
		yaml    string
		want    time.Duration
		wantErr bool
	}{
		{"set", "session:\n  idle_timeout: 30m\n", 30 * time.Minute, false},
		{"unset keeps the default", "session:\n  lifetime: 8h\n", 2 * time.Hour, false},
		{"zero", "session:\n  idle_timeout: 0s\n", 0, true},
		{"negative", "session:\n  idle_timeout: -1m\n", -time.Minute, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Load(writeFile(t, tt.yaml), noEnv)
			if err != nil {
				t.Fatal(err)
			}
			if got := c.Session.IdleTimeout.D(); got != tt.want {
				t.Errorf("idle_timeout = %s; want %s", got, tt.want)
			}
			err = c.Validate()
			if gotErr := err != nil && strings.Contains(err.Error(), "session.idle_timeout"); gotErr != tt.wantErr {
				t.Errorf("Validate() = %v; want an idle_timeout error: %v", err, tt.wantErr)
			}
		})
	}
}
