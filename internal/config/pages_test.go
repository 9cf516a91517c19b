package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestPagesCheck(t *testing.T) {
	dir := t.TempDir()
	logo := filepath.Join(dir, "logo.svg")
	if err := os.WriteFile(logo, []byte("<svg/>"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name string
		edit func(*Pages)
		want string // "" for valid
	}{
		{"defaults", func(*Pages) {}, ""},
		{"full brand", func(p *Pages) {
			*p = Pages{ServiceName: "Acme Home", Logo: logo, PrimaryColor: "#7a1fa2", SupportURL: "mailto:help@acme.example",
				TermsURL: "https://acme.example/terms", PrivacyURL: "https://acme.example/privacy", TemplatesDir: dir}
		}, ""},
		{"logo URL", func(p *Pages) { p.Logo = "https://cdn.acme.example/logo.png" }, ""},
		{"empty name", func(p *Pages) { p.ServiceName = " " }, "pages.service_name"},
		{"colour not hex", func(p *Pages) { p.PrimaryColor = "purple" }, "pages.primary_color"},
		{"colour too light for white text", func(p *Pages) { p.PrimaryColor = "#ffcc00" }, "contrast"},
		{"logo http", func(p *Pages) { p.Logo = "http://cdn.example/logo.png" }, "must be https"},
		{"logo missing", func(p *Pages) { p.Logo = filepath.Join(dir, "nope.png") }, "pages.logo"},
		{"logo type", func(p *Pages) { p.Logo = filepath.Join(dir, "logo.gif") }, ".png"},
		{"terms not https", func(p *Pages) { p.TermsURL = "javascript:alert(1)" }, "pages.terms_url"},
		{"privacy mailto", func(p *Pages) { p.PrivacyURL = "mailto:x@example.com" }, "pages.privacy_url"},
		{"default language", func(p *Pages) { p.DefaultLanguage = "fi" }, ""},
		{"default language not a tag", func(p *Pages) { p.DefaultLanguage = "Deutsch!" }, "pages.default_language"},
		{"templates dir missing", func(p *Pages) { p.TemplatesDir = filepath.Join(dir, "nope") }, "pages.templates_dir"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			p := defaultPages()
			tt.edit(&p)
			errs := p.check()
			switch {
			case tt.want == "" && len(errs) > 0:
				t.Errorf("errors %v", errs)
			case tt.want != "" && (len(errs) == 0 || !strings.Contains(errs[0].Error(), tt.want)):
				t.Errorf("errors %v; want one about %q", errs, tt.want)
			}
		})
	}
}

func TestLinkOnDark(t *testing.T) {
	for _, c := range []string{"#1f5fbf", "#7a1fa2", "#000000", "#0b6e4f"} {
		p := Pages{PrimaryColor: c}
		got, _ := ParseColor(p.LinkOnDark())
		if r := Contrast(got, RGB{0x1b, 0x1f, 0x24}); r < 4.5 {
			t.Errorf("LinkOnDark(%s) = %s: contrast %.2f", c, got.Hex(), r)
		}
	}
}

// TestPagesYAML: the section loads strictly, like every other.
func TestPagesYAML(t *testing.T) {
	path := filepath.Join(t.TempDir(), "latchkey.yaml")
	if err := os.WriteFile(path, []byte("pages:\n  service_name: Acme\n  primary_colour: \"#000000\"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(path, func(string) string { return "" }); err == nil || !strings.Contains(err.Error(), "primary_colour") {
		t.Errorf("a misspelt key: %v", err)
	}
}
