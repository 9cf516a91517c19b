package server

import (
	"strings"
	"testing"

	"github.com/latchkey/latchkey/internal/config"
)

func TestValidateDefault(t *testing.T) {
	t.Parallel()
	if err := Validate(config.Default()); err != nil {
		t.Fatalf("Validate(config.Default()) = %v", err)
	}
}

// TestValidateReportsEverything: the configuration's own problems and the
// user code policy's come back together, so an operator fixes them in one
// go.
func TestValidateReportsEverything(t *testing.T) {
	t.Parallel()
	c := config.Default()
	c.Listen = "nope"
	c.Log.Format = "xml"
	c.Device.UserCode.Length = 6
	c.Device.UserCode.Group = 7
	err := Validate(c)
	if err == nil {
		t.Fatal("Validate accepted a broken config")
	}
	for _, want := range []string{"listen", "log.format", "device.user_code.group 7", "device.user_code: 6 characters"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("Validate error lacks %q:\n%v", want, err)
		}
	}
}

func TestGuessingGuardrail(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name    string
		edit    func(*config.Config)
		wantErr string // "" for none
	}{
		{"default base20 x 8", func(*config.Config) {}, ""},
		{"9 digits with default budgets", func(c *config.Config) {
			c.Device.UserCode = config.UserCode{Alphabet: "digits", Length: 9, Group: 3}
		}, "device.user_code: 9 characters of a 10-character alphabet"},
		{"9 digits with a tight budget", func(c *config.Config) {
			c.Device.UserCode = config.UserCode{Alphabet: "digits", Length: 9, Group: 3}
			c.Device.AttemptsPerIP, c.Device.AttemptsPerAccount, c.Device.ExpectedLiveCodes = 5, 5, 100
		}, ""},
		{"the larger per-source budget counts", func(c *config.Config) {
			c.Device.UserCode = config.UserCode{Alphabet: "digits", Length: 9, Group: 3}
			c.Device.AttemptsPerIP, c.Device.AttemptsPerAccount, c.Device.ExpectedLiveCodes = 5, 500, 100
		}, "with 500 attempts per source and 100 live codes"},
		{"6 base20", func(c *config.Config) { c.Device.UserCode.Length = 6 }, "device.user_code: 6 characters"},
		{"too long to type", func(c *config.Config) { c.Device.UserCode.Length = 17 }, "device.user_code.length 17: want 4 to 16"},
		{"custom alphabet", func(c *config.Config) { c.Device.UserCode.Alphabet = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789" }, ""},
		{"bad custom alphabet", func(c *config.Config) { c.Device.UserCode.Alphabet = "abc" }, "device.user_code.alphabet: custom alphabet character"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c := config.Default()
			tt.edit(&c)
			err := Validate(c)
			switch {
			case tt.wantErr == "" && err != nil:
				t.Errorf("Validate() = %v; want no error", err)
			case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
				t.Errorf("Validate() = %v; want an error containing %q", err, tt.wantErr)
			}
		})
	}
}
