package web

import (
	"fmt"
	"net/http"
	"strings"

	"rsc.io/qr"

	"github.com/latchkey/latchkey/internal/device"
)

// quietZone is the blank border a QR reader needs around the symbol, in
// modules (ISO/IEC 18004 §6.3.8 asks for 4).
const quietZone = 4

// QRCode serves GET /device/qr.svg?user_code=: the verification_uri_complete
// (RFC 8628 §3.3.1) as a QR code, for a device with a screen to show. It
// looks nothing up, so it tells nobody whether a code exists: it would draw
// any well-formed code the same.
func (p *Pages) QRCode(w http.ResponseWriter, r *http.Request) error {
	raw, err := query(r, "user_code")
	if err != nil {
		return err
	}
	code, ok := device.NormalizeUserCode(raw)
	if !ok {
		return &pageError{Status: http.StatusBadRequest, Heading: "err.invalid_code.heading",
			Text: "err.invalid_code.text"}
	}
	c, err := qr.Encode(p.Issuer+"/device?user_code="+code, qr.M)
	if err != nil {
		return fmt.Errorf("encode qr: %w", err)
	}
	h := w.Header()
	h.Set("Content-Type", "image/svg+xml")
	h.Set("Cache-Control", "no-store") // the picture is the code
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write([]byte(qrSVG(c)))
	return nil
}

// qrSVG draws c as one path, one subpath per horizontal run of dark modules,
// on a white square with the quiet zone around it. crispEdges keeps module
// edges on pixel boundaries, so scaled-up codes stay sharp for cameras.
func qrSVG(c *qr.Code) string {
	n := c.Size + 2*quietZone
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 %d %d" width="%d" height="%d" shape-rendering="crispEdges">`, n, n, n*8, n*8)
	fmt.Fprintf(&b, `<rect width="%d" height="%d" fill="#fff"/><path fill="#000" d="`, n, n)
	for y := 0; y < c.Size; y++ {
		for x := 0; x < c.Size; {
			if !c.Black(x, y) {
				x++
				continue
			}
			start := x
			for x < c.Size && c.Black(x, y) {
				x++
			}
			fmt.Fprintf(&b, "M%d %dh%dv1h-%dz", start+quietZone, y+quietZone, x-start, x-start)
		}
	}
	b.WriteString(`"/></svg>`)
	return b.String()
}
