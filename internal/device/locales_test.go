package device

import "testing"

// TestWithLocales: the device's well-formed ui_locales join the link's
// query, whatever its shape (ours, or a front end's page with USER_CODE in
// its query, path or fragment); none leaves the link as it was.
func TestWithLocales(t *testing.T) {
	t.Parallel()
	page := func(complete string) URIs {
		return func(code string) (string, string) { return "https://front.example/device", complete + code }
	}
	for _, tt := range []struct {
		name, complete, ui, want string
	}{
		{"query", "https://front.example/device?user_code=", "de", "https://front.example/device?user_code=WDJB-MJHT&ui_locales=de"},
		{"path", "https://front.example/d/", "fi-FI sv", "https://front.example/d/WDJB-MJHT?ui_locales=fi-FI+sv"},
		{"fragment", "https://front.example/device#code=", "fr", "https://front.example/device?ui_locales=fr#code=WDJB-MJHT"},
		{"query and fragment", "https://front.example/device?x=1#code=", "es", "https://front.example/device?x=1&ui_locales=es#code=WDJB-MJHT"},
		{"nothing well-formed", "https://front.example/device?user_code=", "<b> 12345678901", "https://front.example/device?user_code=WDJB-MJHT"},
		{"none", "https://front.example/device?user_code=", "", "https://front.example/device?user_code=WDJB-MJHT"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			uri, got := WithLocales(page(tt.complete), tt.ui)("WDJB-MJHT")
			if got != tt.want || uri != "https://front.example/device" {
				t.Errorf("WithLocales(%q) = %q, %q; want %q", tt.ui, uri, got, tt.want)
			}
		})
	}
}
