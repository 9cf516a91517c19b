package web

import (
	"encoding/xml"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"rsc.io/qr"

	"github.com/latchkey/latchkey/internal/device"
)

// svgDoc is the part of the SVG the test reads back.
type svgDoc struct {
	XMLName xml.Name `xml:"svg"`
	ViewBox string   `xml:"viewBox,attr"`
	Rects   []struct {
		Fill string `xml:"fill,attr"`
	} `xml:"rect"`
	Paths []struct {
		D    string `xml:"d,attr"`
		Fill string `xml:"fill,attr"`
	} `xml:"path"`
}

// modules turns the path back into the set of dark modules it draws.
func modules(t *testing.T, d string) map[[2]int]bool {
	t.Helper()
	dark := map[[2]int]bool{}
	for _, sub := range strings.Split(d, "z") {
		if sub == "" {
			continue
		}
		var x, y, w, back int
		if _, err := fmt.Sscanf(sub, "M%d %dh%dv1h-%d", &x, &y, &w, &back); err != nil || w != back || w < 1 {
			t.Fatalf("subpath %q is not a run of modules: %v", sub, err)
		}
		for i := range w {
			dark[[2]int{x + i - quietZone, y - quietZone}] = true
		}
	}
	return dark
}

func TestQRCode(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name       string
		query      string
		wantStatus int
	}{
		{"as displayed", "WDJB-MJHT", http.StatusOK},
		{"lower case", "wdjb%20mjht", http.StatusOK},
		{"no such code: drawn all the same, no oracle", "BBBB-BBBB", http.StatusOK},
		{"junk", "%3Csvg%3E", http.StatusBadRequest},
		{"missing", "", http.StatusBadRequest},
		{"too long", strings.Repeat("B", 100), http.StatusBadRequest},
	} {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, "Living room TV")
			w := e.browser(t).get("/device/qr.svg?user_code=" + tt.query)
			if w.Code != tt.wantStatus {
				t.Fatalf("status = %d; want %d\n%s", w.Code, tt.wantStatus, w.Body)
			}
			if got := w.Header().Get("Cache-Control"); got != "no-store" {
				t.Errorf("Cache-Control = %q; want no-store", got)
			}
			if w.Code != http.StatusOK {
				return
			}
			if got := w.Header().Get("Content-Type"); got != "image/svg+xml" {
				t.Errorf("Content-Type = %q; want image/svg+xml", got)
			}
			var doc svgDoc
			if err := xml.Unmarshal(w.Body.Bytes(), &doc); err != nil {
				t.Fatalf("not XML: %v\n%s", err, w.Body)
			}
			if len(doc.Paths) != 1 || len(doc.Rects) != 1 || doc.Rects[0].Fill != "#fff" {
				t.Fatalf("svg has %d paths and %d rects; want one path on one white rect", len(doc.Paths), len(doc.Rects))
			}
			// The drawing is exactly the QR code of verification_uri_complete.
			raw, _ := url.QueryUnescape(tt.query)
			code, _ := device.NormalizeUserCode(raw)
			want, err := qr.Encode(testIssuer+"/device?user_code="+code, qr.M)
			if err != nil {
				t.Fatal(err)
			}
			if got, wantBox := doc.ViewBox, fmt.Sprintf("0 0 %d %d", want.Size+8, want.Size+8); got != wantBox {
				t.Errorf("viewBox = %q; want %q (4-module quiet zone)", got, wantBox)
			}
			dark := modules(t, doc.Paths[0].D)
			for y := range want.Size {
				for x := range want.Size {
					if got := dark[[2]int{x, y}]; got != want.Black(x, y) {
						t.Fatalf("module (%d,%d) dark = %v; want %v", x, y, got, want.Black(x, y))
					}
				}
			}
			for m := range dark {
				if m[0] < 0 || m[1] < 0 || m[0] >= want.Size || m[1] >= want.Size {
					t.Fatalf("dark module %v in the quiet zone", m)
				}
			}
		})
	}
}
