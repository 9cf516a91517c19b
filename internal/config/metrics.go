package config

import (
	"fmt"
	"net"
)

// Metrics sets the Prometheus metrics listener. Metrics are never on the
// public listener: they are off unless Listen names an address of their own.
type Metrics struct {
	// Listen is the HOST:PORT /metrics is served on, apart from the main
	// listener (127.0.0.1:9464, say); empty turns metrics off.
	Listen string `yaml:"listen"`
	// Token, when set, is the bearer token a scrape must present
	// (Prometheus's authorization.credentials); at least 32 characters.
	Token string `yaml:"token"`
}

// Enabled says whether metrics are collected and served.
func (m *Metrics) Enabled() bool { return m.Listen != "" }

func (c *Config) checkMetrics() []error {
	m := c.Metrics
	var errs []error
	if m.Listen != "" {
		if _, port, err := net.SplitHostPort(m.Listen); err != nil || port == "" {
			errs = append(errs, fmt.Errorf("metrics.listen %q: want HOST:PORT, such as 127.0.0.1:9464", m.Listen))
		} else if m.Listen == c.Listen && port != "0" {
			errs = append(errs, fmt.Errorf("metrics.listen %q: must differ from listen; metrics are not served on the public listener", m.Listen))
		}
	}
	if m.Token != "" && len(m.Token) < 32 {
		errs = append(errs, fmt.Errorf("metrics.token: must have at least 32 characters"))
	}
	if m.Token != "" && m.Listen == "" {
		errs = append(errs, fmt.Errorf("metrics.token is set but metrics.listen is empty, so metrics are off"))
	}
	return errs
}
