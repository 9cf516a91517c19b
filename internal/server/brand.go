package server

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/latchkey/latchkey/internal/config"
	"github.com/latchkey/latchkey/internal/i18n"
	"github.com/latchkey/latchkey/internal/web"
)

// languages are the catalogs of the pages and emails, with
// pages.default_language, which must have one.
func languages(p config.Pages) (*i18n.Set, error) {
	set, err := i18n.Builtin().WithDefault(p.DefaultLanguage)
	if err != nil {
		return nil, fmt.Errorf("pages.default_language: %w", err)
	}
	return set, nil
}

// theme builds the pages' brand and templates from pages: in the
// configuration. A logo file is read once, here; a template that does not
// parse is an error that stops the start, naming its file and line.
func theme(p config.Pages) (*web.Theme, error) {
	b := web.Brand{
		Name:         p.ServiceName,
		Logo:         p.Logo,
		Color:        p.PrimaryColor,
		LinkOnDark:   p.LinkOnDark(),
		SupportURL:   p.SupportURL,
		TermsURL:     p.TermsURL,
		PrivacyURL:   p.PrivacyURL,
		TemplatesDir: p.TemplatesDir,
	}
	if p.Logo != "" && !p.LogoIsURL() {
		ctype, ok := config.LogoExtensions[strings.ToLower(filepath.Ext(p.Logo))]
		if !ok {
			return nil, fmt.Errorf("pages.logo %q: want a .png, .svg, .jpg or .webp file", p.Logo)
		}
		data, err := os.ReadFile(p.Logo)
		if err != nil {
			return nil, fmt.Errorf("pages.logo: %w", err)
		}
		if len(data) == 0 || len(data) > config.MaxLogoBytes {
			return nil, fmt.Errorf("pages.logo %q: want a file of 1 byte to %d KB", p.Logo, config.MaxLogoBytes>>10)
		}
		b.LogoBytes, b.LogoType = data, ctype
	}
	return web.NewTheme(b)
}
