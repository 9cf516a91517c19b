package termqr

import (
	"bytes"
	"strings"
	"testing"
	"unicode/utf8"

	"rsc.io/qr"
)

func render(t *testing.T, text string) string {
	t.Helper()
	var buf bytes.Buffer
	if err := Render(&buf, text); err != nil {
		t.Fatalf("Render(%q): %v", text, err)
	}
	return buf.String()
}

func TestRenderDimensions(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name string
		text string
	}{
		{"empty", ""},
		{"user code", "WDJB-MJHT"},
		{"verification_uri_complete", "http://127.0.0.1:8080/device?user_code=WDJB-MJHT"},
		{"long https link", "https://login.example.com/device?user_code=WDJB-MJHT&utm_source=" + strings.Repeat("x", 200)},
	} {
		t.Run(tt.name, func(t *testing.T) {
			code, err := qr.Encode(tt.text, qr.L)
			if err != nil {
				t.Fatal(err)
			}
			side := code.Size + 2*QuietZone
			wantLines := (side + 1) / 2

			out := render(t, tt.text)
			if !strings.HasSuffix(out, "\n") {
				t.Fatalf("output does not end with a newline")
			}
			lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
			if len(lines) != wantLines {
				t.Errorf("got %d lines, want %d (code of %d modules, quiet zone %d)", len(lines), wantLines, code.Size, QuietZone)
			}
			for i, line := range lines {
				if n := utf8.RuneCountInString(line); n != side {
					t.Errorf("line %d is %d characters wide, want %d", i, n, side)
				}
				if s := strings.Trim(line, " ▀▄█"); s != "" {
					t.Errorf("line %d has characters other than half blocks and spaces: %q", i, s)
				}
			}
			// The top two module rows are quiet zone: all light, so all full blocks.
			if got, want := lines[0], strings.Repeat("█", side); got != want {
				t.Errorf("first line = %q, want the quiet zone %q", got, want)
			}
			// The code's side is odd, so the last line holds only the final
			// (quiet) module row in its top half.
			if got, want := lines[len(lines)-1], strings.Repeat("▀", side); got != want {
				t.Errorf("last line = %q, want %q", got, want)
			}
		})
	}
}

func TestRenderStable(t *testing.T) {
	t.Parallel()
	const text = "http://127.0.0.1:8080/device?user_code=WDJB-MJHT"
	if a, b := render(t, text), render(t, text); a != b {
		t.Errorf("two renderings of %q differ:\n%s\n%s", text, a, b)
	}
}

func TestRenderDiffers(t *testing.T) {
	t.Parallel()
	a := render(t, "http://127.0.0.1:8080/device?user_code=WDJB-MJHT")
	b := render(t, "http://127.0.0.1:8080/device?user_code=WDJB-MJHX")
	if a == b {
		t.Errorf("different texts rendered the same code:\n%s", a)
	}
}

func TestRenderTooLong(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	if err := Render(&buf, strings.Repeat("x", 4000)); err == nil {
		t.Errorf("Render of 4000 bytes: got no error, want one (beyond QR version 40)")
	}
	if buf.Len() != 0 {
		t.Errorf("Render wrote %d bytes before failing", buf.Len())
	}
}
