package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func writeFile(t *testing.T, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "latchkey.yaml")
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func noEnv(string) string { return "" }

func TestDefaultIsValid(t *testing.T) {
	c := Default()
	if err := c.Validate(); err != nil {
		t.Fatalf("Default().Validate() = %v", err)
	}
	if got, want := c.IssuerURL(), "http://127.0.0.1:8080"; got != want {
		t.Errorf("IssuerURL = %q; want %q", got, want)
	}
}

func TestLoadFile(t *testing.T) {
	p := writeFile(t, `
issuer: https://auth.example.com/
listen: 0.0.0.0:9000
device:
  lifetime: 15m
  interval: 10
  user_code:
    alphabet: base20
    length: 9
`)
	c, err := Load(p, noEnv)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	if c.IssuerURL() != "https://auth.example.com" || c.Listen != "0.0.0.0:9000" {
		t.Errorf("issuer %q listen %q", c.IssuerURL(), c.Listen)
	}
	if c.Device.Lifetime.D() != 15*time.Minute || c.Device.Interval.D() != 10*time.Second || c.Device.UserCode.Length != 9 {
		t.Errorf("device = %+v", c.Device)
	}
	if c.Device.UserCode.Group != 4 {
		t.Errorf("an unset key lost its default: group = %d", c.Device.UserCode.Group)
	}
}

func TestLoadUnknownKey(t *testing.T) {
	p := writeFile(t, "issuer: https://a.example\ndevice:\n  lifetmie: 5m\n")
	_, err := Load(p, noEnv)
	if err == nil || !strings.Contains(err.Error(), "lifetmie") {
		t.Fatalf("Load with a typo = %v; want an error naming the key", err)
	}
}

func TestLoadEmptyFile(t *testing.T) {
	if _, err := Load(writeFile(t, ""), noEnv); err != nil {
		t.Fatalf("Load(empty) = %v", err)
	}
}

func TestEnvOverridesFile(t *testing.T) {
	p := writeFile(t, "listen: 127.0.0.1:9000\n")
	env := map[string]string{"LATCHKEY_LISTEN": "127.0.0.1:9999", "LATCHKEY_DB": "sqlite:/tmp/x.db"}
	c, err := Load(p, func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	if c.Listen != "127.0.0.1:9999" || c.Database != "sqlite:/tmp/x.db" {
		t.Errorf("listen %q db %q", c.Listen, c.Database)
	}
}

func TestValidateReportsEverything(t *testing.T) {
	c := Default()
	c.Listen = "nope"
	c.Issuer = "ftp://x"
	c.Database = "mysql://x"
	c.Log.Format = "xml"
	c.Device.Interval = 0
	c.AdminToken = "short"
	err := c.Validate()
	if err == nil {
		t.Fatal("Validate accepted a broken config")
	}
	for _, want := range []string{"listen", "issuer", "database", "log.format", "device.interval", "admin_token"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("Validate error lacks %q:\n%v", want, err)
		}
	}
}

func TestValidateHTTPIssuer(t *testing.T) {
	c := Default()
	c.Issuer = "http://auth.example.com"
	if err := c.Validate(); err == nil {
		t.Error("a plain-http public issuer was accepted")
	}
	c.Issuer = "http://localhost:8080"
	if err := c.Validate(); err != nil {
		t.Errorf("loopback http issuer refused: %v", err)
	}
}
