package config

import "testing"

func TestValidateMetrics(t *testing.T) {
	t.Parallel()
	const token = "0123456789abcdef0123456789abcdef"
	for _, tt := range []struct {
		name    string
		yaml    string
		env     map[string]string
		wantErr string // "": valid
		wantOn  bool
	}{
		{"off by default", "", nil, "", false},
		{"a listener of its own", "metrics: {listen: \"127.0.0.1:9464\"}\n", nil, "", true},
		{"with a token", "metrics: {listen: \"127.0.0.1:9464\", token: " + token + "}\n", nil, "", true},
		{"token from the environment", "metrics: {listen: \"127.0.0.1:9464\"}\n", map[string]string{"LATCHKEY_METRICS_TOKEN": token}, "", true},
		{"no port", "metrics: {listen: \"127.0.0.1\"}\n", nil, `metrics.listen "127.0.0.1": want HOST:PORT, such as 127.0.0.1:9464`, true},
		{"the public listener", "listen: \"127.0.0.1:8080\"\nmetrics: {listen: \"127.0.0.1:8080\"}\n", nil,
			`metrics.listen "127.0.0.1:8080": must differ from listen; metrics are not served on the public listener`, true},
		{"short token", "metrics: {listen: \"127.0.0.1:9464\", token: short}\n", nil, "metrics.token: must have at least 32 characters", true},
		{"token without listener", "metrics: {token: " + token + "}\n", nil, "metrics.token is set but metrics.listen is empty, so metrics are off", false},
		{"unknown key", "metrics: {path: /metrics}\n", nil, "load", false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c, err := Load(writeFile(t, tt.yaml), func(k string) string { return tt.env[k] })
			if tt.wantErr == "load" {
				if err == nil {
					t.Fatal("Load took an unknown metrics key")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if c.Metrics.Enabled() != tt.wantOn {
				t.Errorf("Enabled = %v; want %v", c.Metrics.Enabled(), tt.wantOn)
			}
			if tt.env["LATCHKEY_METRICS_TOKEN"] != "" && c.Metrics.Token != tt.env["LATCHKEY_METRICS_TOKEN"] {
				t.Errorf("token %q; want the environment's", c.Metrics.Token)
			}
			err = c.Validate()
			switch {
			case tt.wantErr == "" && err != nil:
				t.Errorf("Validate = %v; want nil", err)
			case tt.wantErr != "" && (err == nil || err.Error() != tt.wantErr):
				t.Errorf("Validate = %v; want %s", err, tt.wantErr)
			}
		})
	}
}
