package config

import (
	"fmt"
	"slices"
	"time"
)

// Registration sets dynamic client registration (RFC 7591) and its
// management (RFC 7592). It is off by default; when on, every registration
// needs an initial access token an admin made (`latchkey
// registration-tokens create`).
type Registration struct {
	Enabled bool `yaml:"enabled"`
	// Scopes are those a dynamically registered client may ask for; a
	// client that names none gets them all.
	Scopes []string `yaml:"scopes"`
	// GrantTypes are those a dynamically registered client may use.
	GrantTypes []string `yaml:"grant_types"`
	// RequestsPerIPPerMinute bounds registration and management requests
	// per client address, counted in the store (0: no limit).
	RequestsPerIPPerMinute int `yaml:"requests_per_ip_per_minute"`
}

// registrationGrants are the grant types a dynamically registered client
// may be allowed.
var registrationGrants = []string{
	"urn:ietf:params:oauth:grant-type:device_code", "refresh_token", "authorization_code", "client_credentials",
}

func defaultRegistration() Registration {
	return Registration{
		Scopes:                 []string{"openid", "profile", "email", "offline_access"},
		GrantTypes:             slices.Clone(registrationGrants),
		RequestsPerIPPerMinute: 20,
	}
}

func (r *Registration) check() []error {
	var errs []error
	if len(r.Scopes) == 0 {
		errs = append(errs, fmt.Errorf("registration.scopes: must name at least one scope"))
	}
	if len(r.GrantTypes) == 0 {
		errs = append(errs, fmt.Errorf("registration.grant_types: must name at least one grant type"))
	}
	for _, g := range r.GrantTypes {
		if !slices.Contains(registrationGrants, g) {
			errs = append(errs, fmt.Errorf("registration.grant_types: %q is not one of %v", g, registrationGrants))
		}
	}
	if r.RequestsPerIPPerMinute < 0 {
		errs = append(errs, fmt.Errorf("registration.requests_per_ip_per_minute: must not be negative"))
	}
	return errs
}

// DPoP sets DPoP (RFC 9449) at the token endpoint and UserInfo.
type DPoP struct {
	// ProofWindow is how far a proof's iat may be from the server's time,
	// either way; each proof's jti is kept in the store that long.
	ProofWindow Duration `yaml:"proof_window"`
	// RequireNonce makes every proof carry a server-provided nonce
	// (RFC 9449 §8), which also covers devices whose clocks are off.
	RequireNonce bool `yaml:"require_nonce"`
	// NoncePeriod is how often a new nonce is issued; one is good for its
	// period and the next.
	NoncePeriod Duration `yaml:"nonce_period"`
}

func defaultDPoP() DPoP {
	return DPoP{ProofWindow: Duration(time.Minute), RequireNonce: true, NoncePeriod: Duration(5 * time.Minute)}
}

func (d *DPoP) check() []error {
	var errs []error
	if d.ProofWindow < Duration(5*time.Second) || d.ProofWindow > Duration(10*time.Minute) {
		errs = append(errs, fmt.Errorf("dpop.proof_window %s: want 5s to 10m", d.ProofWindow))
	}
	if d.NoncePeriod < Duration(10*time.Second) || d.NoncePeriod > Duration(time.Hour) {
		errs = append(errs, fmt.Errorf("dpop.nonce_period %s: want 10s to 1h", d.NoncePeriod))
	}
	return errs
}
