package device

import (
	"errors"
	"fmt"
	"math"
	"strings"

	"github.com/latchkey/latchkey/internal/store"
)

// The user code policy: how codes are drawn and shown, and how hard they
// are to guess. It is checked here, and only here, wherever a policy comes
// from: the server's settings (validated with the configuration), a
// client's override (the admin API) and the merge of the two that the code
// generator draws from (Override).

// MaxUserCodeLength bounds a user code: people type it.
const MaxUserCodeLength = 16

// CodePolicy says how user codes are drawn and shown.
type CodePolicy struct {
	Alphabet string // the characters themselves (see ResolveAlphabet)
	Length   int    // characters drawn
	Group    int    // characters between dashes when displayed; 0 for none
}

// NewPolicy resolves the server's user code settings: an alphabet by name
// ("base20", "digits") or by its characters, a length and a grouping.
func NewPolicy(alphabet string, length, group int) (CodePolicy, error) {
	a, err := ResolveAlphabet(alphabet)
	if err != nil {
		return CodePolicy{}, err
	}
	return CodePolicy{Alphabet: a, Length: length, Group: group}, nil
}

// ResolveAlphabet turns a configured alphabet ("base20", "digits" or the
// characters; Authlete's BASE20 and NUMERIC too, case is ignored) into its characters, checking that people can type it and
// that input folding cannot confuse two of its characters.
func ResolveAlphabet(name string) (string, error) {
	switch strings.ToLower(name) {
	case "", "base20":
		return Base20, nil
	case "digits", "numeric": // numeric: Authlete's name (its "User Code Character Set")
		return Digits, nil
	}
	if len(name) < 2 {
		return "", errors.New("a custom alphabet needs at least 2 characters")
	}
	seen := map[byte]bool{}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !(c >= 'A' && c <= 'Z' || c >= '0' && c <= '9') {
			// Input is folded to upper case and dashes and spaces are
			// dropped, so only these can be told apart when typed.
			return "", fmt.Errorf("custom alphabet character %q is not one of A-Z or 0-9", c)
		}
		if seen[c] {
			return "", fmt.Errorf("custom alphabet repeats %q", c)
		}
		seen[c] = true
	}
	return name, nil
}

// Override applies a client's user code settings to p: zero fields keep
// p's, and a group of -1 means no dashes.
func (p CodePolicy) Override(o store.UserCodePolicy) (CodePolicy, error) {
	if o.Alphabet != "" {
		a, err := ResolveAlphabet(o.Alphabet)
		if err != nil {
			return p, fmt.Errorf("user code alphabet: %w", err)
		}
		p.Alphabet = a
	}
	if o.Length > 0 {
		p.Length = o.Length
	}
	switch {
	case o.Group > 0:
		p.Group = o.Group
	case o.Group < 0:
		p.Group = 0
	}
	return p, nil
}

// Bits is the entropy of one code under the policy.
func (p CodePolicy) Bits() float64 {
	return float64(p.Length) * math.Log2(float64(len(p.Alphabet)))
}

// Space is the number of distinct codes under the policy.
func (p CodePolicy) Space() float64 {
	return math.Pow(float64(len(p.Alphabet)), float64(p.Length))
}

// Budget is what someone guessing user codes has to work with (RFC 8628
// §5.1): the wrong entries one source may make while a code lives, and how
// many codes are alive at once, any of which a guess may hit.
type Budget struct {
	// Attempts is the wrong entries one source gets per code lifetime: the
	// larger of the per-account and per-address limits.
	Attempts int
	// LiveCodes is how many unexpired codes the operator expects at once
	// (docs/security.md, multi-target guessing).
	LiveCodes int
}

// MaxGuessOdds is the worst guessing odds a policy may give: 2^-20.
const MaxGuessOdds = 1.0 / (1 << 20)

// GuessOdds is the chance that one source, spending its whole budget of
// wrong entries over a code's lifetime, hits some live code: attempts x
// live codes / code space (RFC 8628 §5.1, corrected for the many codes
// alive at once).
func (p CodePolicy) GuessOdds(b Budget) float64 {
	return float64(b.Attempts) * float64(b.LiveCodes) / p.Space()
}

// Check reports every problem with p as a policy codes are drawn from
// under budget b: a length people can type, dashes within it, and guessing
// odds no worse than MaxGuessOdds. Each error names the setting, name
// ("device.user_code" in the configuration, "user_code" for a client).
func (p CodePolicy) Check(name string, b Budget) []error {
	if p.Length < 4 || p.Length > MaxUserCodeLength {
		return []error{fmt.Errorf("%s.length %d: want 4 to %d", name, p.Length, MaxUserCodeLength)}
	}
	var errs []error
	if p.Group < 0 || p.Group > p.Length {
		errs = append(errs, fmt.Errorf("%s.group %d: want 0 to the length", name, p.Group))
	}
	if odds := p.GuessOdds(b); odds > MaxGuessOdds {
		errs = append(errs, fmt.Errorf("%s: %d characters of a %d-character alphabet (%.1f bits) with %d attempts per source and %d live codes give guessing odds of 2^%.1f, worse than 2^-20 (RFC 8628 §5.1): lengthen the code, enlarge the alphabet, or lower device.attempts_per_ip/attempts_per_account or device.expected_live_codes",
			name, p.Length, len(p.Alphabet), p.Bits(), b.Attempts, b.LiveCodes, math.Log2(odds)))
	}
	return errs
}

// CheckOverride checks the shape of a client's override on its own, before
// it is merged with any server's policy: zero fields inherit the server's,
// and a group of -1 means no dashes.
func CheckOverride(o store.UserCodePolicy) error {
	if o.Alphabet != "" {
		if _, err := ResolveAlphabet(o.Alphabet); err != nil {
			return fmt.Errorf("user_code.alphabet: %w", err)
		}
	}
	if o.Length != 0 && (o.Length < 4 || o.Length > MaxUserCodeLength) {
		return fmt.Errorf("user_code.length %d: want 4 to %d, or 0 for the server's", o.Length, MaxUserCodeLength)
	}
	if o.Group < -1 || o.Group > MaxUserCodeLength || (o.Length > 0 && o.Group > o.Length) {
		return fmt.Errorf("user_code.group %d: want 1 to the length, -1 for no dashes, or 0 for the server's", o.Group)
	}
	return nil
}

// Rules are the server's user code policy and the guessing budget every
// policy must keep within.
type Rules struct {
	Policy CodePolicy
	Budget Budget
}

// CheckClient checks a client's override as it will be used: its shape,
// then the policy it makes of the server's (Override, as the code generator
// applies it) against the budget.
func (r Rules) CheckClient(o store.UserCodePolicy) error {
	if err := CheckOverride(o); err != nil {
		return err
	}
	p, err := r.Policy.Override(o)
	if err != nil {
		return err
	}
	return errors.Join(p.Check("user_code", r.Budget)...)
}
