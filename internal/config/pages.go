package config

import (
	"fmt"
	"math"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"unicode"
)

// Pages is how the pages people see present the operator: the service's
// name, logo, colour and links, shown on every page, in every page's title
// and in every email; and a directory of templates that replace the
// built-in ones by file name (package web, which parses them all at
// start-up).
type Pages struct {
	// ServiceName is what pages and emails call the service.
	ServiceName string `yaml:"service_name"`
	// Logo is a PNG, SVG, JPEG or WebP file (served at /branding/logo), or
	// an https URL the pages load it from (and the CSP then allows).
	Logo string `yaml:"logo"`
	// PrimaryColor is the buttons' and links' colour, #rrggbb. White text
	// on it must be readable (contrast 4.5:1, WCAG 2.1 AA).
	PrimaryColor string `yaml:"primary_color"`
	// SupportURL, TermsURL and PrivacyURL are linked from every page's
	// footer (https, or mailto: for support); empty ones are left out.
	SupportURL string `yaml:"support_url"`
	TermsURL   string `yaml:"terms_url"`
	PrivacyURL string `yaml:"privacy_url"`
	// TemplatesDir holds templates that replace built-in ones of the same
	// file name (layout.html, login.html, …).
	TemplatesDir string `yaml:"templates_dir"`
	// DefaultLanguage is the pages' and emails' language when neither the
	// request's ui_locales nor its Accept-Language names one there is a
	// catalog for (package i18n: en, de, es, fi, fr); "en" by default.
	DefaultLanguage string `yaml:"default_language"`
}

// MaxLogoBytes bounds a logo file: it is read into memory and sent with
// every page view that is not cached.
const MaxLogoBytes = 512 << 10

// LogoExtensions are the logo file types, by extension, with the
// Content-Type they are served with.
var LogoExtensions = map[string]string{
	".png": "image/png", ".svg": "image/svg+xml", ".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".webp": "image/webp",
}

// languageTag is the shape of a BCP 47 tag; which ones have a catalog is
// package i18n's to say (server.Validate asks it).
var languageTag = regexp.MustCompile(`^[A-Za-z]{2,8}(-[A-Za-z0-9]{1,8})*$`)

func defaultPages() Pages {
	return Pages{ServiceName: "Latchkey", PrimaryColor: "#1f5fbf", DefaultLanguage: "en"}
}

// LogoIsURL says whether Logo names an https URL rather than a file.
func (p *Pages) LogoIsURL() bool { return strings.HasPrefix(p.Logo, "https://") }

func (p *Pages) check() []error {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	name := strings.TrimSpace(p.ServiceName)
	switch {
	case name == "":
		bad("pages.service_name: must not be empty")
	case len(p.ServiceName) > 60:
		bad("pages.service_name: at most 60 bytes")
	case strings.ContainsFunc(p.ServiceName, unicode.IsControl):
		bad("pages.service_name: holds a control character")
	}
	if c, err := ParseColor(p.PrimaryColor); err != nil {
		bad("pages.primary_color %q: %v", p.PrimaryColor, err)
	} else if r := Contrast(c, RGB{255, 255, 255}); r < 4.5 {
		bad("pages.primary_color %s: white text on it has a contrast of %.1f:1, want at least 4.5:1 (a darker colour)", p.PrimaryColor, r)
	}
	switch {
	case p.Logo == "":
	case p.LogoIsURL():
		if u, err := url.Parse(p.Logo); err != nil || u.Host == "" || u.User != nil || strings.ContainsAny(p.Logo, " \"'<>;,") {
			bad("pages.logo %q: not a usable https URL", p.Logo)
		}
	case strings.Contains(p.Logo, "://"):
		bad("pages.logo %q: a URL must be https", p.Logo)
	default:
		if _, ok := LogoExtensions[strings.ToLower(filepath.Ext(p.Logo))]; !ok {
			bad("pages.logo %q: want a .png, .svg, .jpg or .webp file", p.Logo)
		} else if fi, err := os.Stat(p.Logo); err != nil {
			bad("pages.logo: %v", err)
		} else if !fi.Mode().IsRegular() || fi.Size() > MaxLogoBytes {
			bad("pages.logo %q: want a file of at most %d KB", p.Logo, MaxLogoBytes>>10)
		}
	}
	for name, v := range map[string]string{"pages.support_url": p.SupportURL, "pages.terms_url": p.TermsURL, "pages.privacy_url": p.PrivacyURL} {
		if v == "" {
			continue
		}
		u, err := url.Parse(v)
		switch {
		case err != nil:
			bad("%s %q: %v", name, v, err)
		case u.Scheme == "mailto" && name == "pages.support_url" && u.Opaque != "":
		case u.Scheme != "https" || u.Host == "":
			bad("%s %q: want an https URL%s", name, v, map[bool]string{true: " or mailto:", false: ""}[name == "pages.support_url"])
		}
	}
	if p.DefaultLanguage != "" && !languageTag.MatchString(p.DefaultLanguage) {
		bad("pages.default_language %q: want a language tag such as en, de or fi", p.DefaultLanguage)
	}
	if p.TemplatesDir != "" {
		if fi, err := os.Stat(p.TemplatesDir); err != nil {
			bad("pages.templates_dir: %v", err)
		} else if !fi.IsDir() {
			bad("pages.templates_dir %q: not a directory", p.TemplatesDir)
		}
	}
	return errs
}

// RGB is a colour of the sRGB space.
type RGB struct{ R, G, B uint8 }

// ParseColor reads #rrggbb.
func ParseColor(s string) (RGB, error) {
	if len(s) != 7 || s[0] != '#' {
		return RGB{}, fmt.Errorf("want #rrggbb")
	}
	n, err := strconv.ParseUint(s[1:], 16, 32)
	if err != nil {
		return RGB{}, fmt.Errorf("want #rrggbb")
	}
	return RGB{uint8(n >> 16), uint8(n >> 8), uint8(n)}, nil
}

// Hex is c as #rrggbb.
func (c RGB) Hex() string { return fmt.Sprintf("#%02x%02x%02x", c.R, c.G, c.B) }

// Luminance is c's relative luminance (WCAG 2.1, "relative luminance").
func (c RGB) Luminance() float64 {
	lin := func(v uint8) float64 {
		s := float64(v) / 255
		if s <= 0.03928 {
			return s / 12.92
		}
		return math.Pow((s+0.055)/1.055, 2.4)
	}
	return 0.2126*lin(c.R) + 0.7152*lin(c.G) + 0.0722*lin(c.B)
}

// Contrast is the contrast ratio of a and b (WCAG 2.1, "contrast ratio"),
// from 1 to 21.
func Contrast(a, b RGB) float64 {
	la, lb := a.Luminance(), b.Luminance()
	if la < lb {
		la, lb = lb, la
	}
	return (la + 0.05) / (lb + 0.05)
}

// LinkOnDark is the primary colour made light enough to read as a link on
// the dark scheme's card (#1b1f24): mixed with white until the contrast is
// at least 4.5:1.
func (p *Pages) LinkOnDark() string {
	c, err := ParseColor(p.PrimaryColor)
	if err != nil {
		return "#8ab4f8"
	}
	card := RGB{0x1b, 0x1f, 0x24}
	mix := func(v uint8, t float64) uint8 { return uint8(math.Round(float64(v) + (255-float64(v))*t)) }
	for t := 0.0; t <= 1; t += 0.05 {
		m := RGB{mix(c.R, t), mix(c.G, t), mix(c.B, t)}
		if Contrast(m, card) >= 4.5 {
			return m.Hex()
		}
	}
	return "#ffffff"
}
