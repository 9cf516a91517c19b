// Package termqr draws QR codes as text, for terminals. Encoding the code is
// left to rsc.io/qr; this package only decides how modules become characters.
//
// Convention: the light modules, quiet zone included, are drawn with Unicode
// half blocks ('▀', '▄', '█') in the terminal's foreground colour, and the dark
// modules are spaces, so the terminal's own background shows through. On a
// dark terminal (light text on a dark background, the common case) that is a
// correct code: dark modules on a light field. On a light terminal the code
// comes out inverted; most phone scanners (iOS Camera, Google Lens) read
// inverted codes too, and callers should print the encoded text beside it
// anyway. No colour escape sequences are written, so the output is also safe
// in logs and pipes.
package termqr

import (
	"bufio"
	"io"

	"rsc.io/qr"
)

// QuietZone is the number of light modules drawn around the code. The QR
// standard asks for 4; 2 is enough for phone scanners in practice and keeps
// the code small enough for an 80x24 terminal.
const QuietZone = 2

// Render writes text as a QR code to w: each character covers one module
// across and two modules down, so a code of n modules (plus the quiet zone on
// each side) is n+2*QuietZone characters wide and (n+2*QuietZone+1)/2 lines
// high. Every line ends with '\n'. It uses the lowest error correction level
// (L): a screen is not a dirty label, and smaller codes fit more terminals.
func Render(w io.Writer, text string) error {
	code, err := qr.Encode(text, qr.L)
	if err != nil {
		return err
	}
	side := code.Size + 2*QuietZone
	// light reports whether the module at (x, y), counted from the outer edge
	// of the quiet zone, is drawn. Below the last row (the odd half of the
	// final line) nothing is drawn.
	light := func(x, y int) bool {
		if y >= side {
			return false
		}
		return !code.Black(x-QuietZone, y-QuietZone) // outside the code, Black is false: quiet zone
	}
	bw := bufio.NewWriter(w)
	for y := 0; y < side; y += 2 {
		for x := 0; x < side; x++ {
			bw.WriteRune(halfBlock(light(x, y), light(x, y+1)))
		}
		bw.WriteByte('\n')
	}
	return bw.Flush()
}

// halfBlock is the character that draws the given top and bottom modules.
func halfBlock(top, bottom bool) rune {
	switch {
	case top && bottom:
		return '█'
	case top:
		return '▀'
	case bottom:
		return '▄'
	default:
		return ' '
	}
}
