package device

import (
	"strings"
	"testing"

	"github.com/latchkey/latchkey/internal/store"
)

// defaultBudget is the default configuration's: 20 wrong entries per source, 1000
// live codes.
var defaultBudget = Budget{Attempts: 20, LiveCodes: 1000}

func TestCheck(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name string
		p    CodePolicy
		want []string // a part of each error, in order; none: valid
	}{
		{"base20 x 8 (RFC 8628 §6.1)", CodePolicy{Alphabet: Base20, Length: 8, Group: 4}, nil},
		{"no dashes", CodePolicy{Alphabet: Base20, Length: 8}, nil},
		{"too short to be safe", CodePolicy{Alphabet: Base20, Length: 3}, []string{"x.length 3: want 4 to 16"}},
		{"too long to type", CodePolicy{Alphabet: Base20, Length: 17}, []string{"x.length 17: want 4 to 16"}},
		{"group beyond the length", CodePolicy{Alphabet: Base20, Length: 8, Group: 9}, []string{"x.group 9: want 0 to the length"}},
		{"guessable", CodePolicy{Alphabet: Digits, Length: 9, Group: 3}, []string{"x: 9 characters of a 10-character alphabet (29.9 bits) with 20 attempts per source and 1000 live codes give guessing odds of 2^-15.6"}},
		{"every problem at once", CodePolicy{Alphabet: Digits, Length: 6, Group: -1}, []string{"x.group -1", "x: 6 characters"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			errs := tt.p.Check("x", defaultBudget)
			if len(errs) != len(tt.want) {
				t.Fatalf("Check = %v; want %d errors", errs, len(tt.want))
			}
			for i, err := range errs {
				if !strings.Contains(err.Error(), tt.want[i]) {
					t.Errorf("error %d = %q; want it to contain %q", i, err, tt.want[i])
				}
			}
		})
	}
}

func TestGuessOdds(t *testing.T) {
	t.Parallel()
	p := CodePolicy{Alphabet: Base20, Length: 8}
	if got, want := p.GuessOdds(defaultBudget), 20*1000/p.Space(); got != want {
		t.Errorf("GuessOdds = %g; want %g", got, want)
	}
	if p.GuessOdds(defaultBudget) > MaxGuessOdds {
		t.Errorf("the default policy's odds %g exceed MaxGuessOdds", p.GuessOdds(defaultBudget))
	}
}

// TestCheckClient: a client's override is checked for its own shape, then
// as the policy the generator will draw from: merged with the server's.
func TestCheckClient(t *testing.T) {
	t.Parallel()
	rules := Rules{Policy: CodePolicy{Alphabet: Base20, Length: 8, Group: 4}, Budget: defaultBudget}
	for _, tt := range []struct {
		name string
		o    store.UserCodePolicy
		want string // a part of the error; "" for none
	}{
		{"no override", store.UserCodePolicy{}, ""},
		{"longer digits", store.UserCodePolicy{Alphabet: "digits", Length: 12, Group: 4}, ""},
		{"no dashes", store.UserCodePolicy{Group: -1}, ""},
		{"named alphabet in capitals", store.UserCodePolicy{Alphabet: "BASE20"}, ""},
		{"bad alphabet", store.UserCodePolicy{Alphabet: "ABCa"}, "user_code.alphabet: custom alphabet character"},
		{"too short", store.UserCodePolicy{Length: 3}, "user_code.length 3: want 4 to 16, or 0 for the server's"},
		{"too long", store.UserCodePolicy{Length: 17}, "user_code.length 17"},
		{"group beyond its length", store.UserCodePolicy{Length: 8, Group: 9}, "user_code.group 9"},
		{"group below -1", store.UserCodePolicy{Group: -2}, "user_code.group -2"},
		{"the server's length with a small alphabet is guessable", store.UserCodePolicy{Alphabet: "digits"}, "user_code: 8 characters of a 10-character alphabet"},
		{"group beyond the server's length", store.UserCodePolicy{Group: 9}, "user_code.group 9: want 0 to the length"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			err := rules.CheckClient(tt.o)
			switch {
			case tt.want == "" && err != nil:
				t.Errorf("CheckClient = %v; want nil", err)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
				t.Errorf("CheckClient = %v; want an error containing %q", err, tt.want)
			}
		})
	}
}

func TestNewPolicy(t *testing.T) {
	t.Parallel()
	p, err := NewPolicy("DIGITS", 9, 3)
	if err != nil || p != (CodePolicy{Alphabet: Digits, Length: 9, Group: 3}) {
		t.Errorf("NewPolicy(DIGITS, 9, 3) = %+v, %v", p, err)
	}
	if _, err := NewPolicy("aeiou", 8, 4); err == nil {
		t.Errorf("NewPolicy with a lower-case alphabet = %v; want an error", err)
	}
}

// TestResolveAlphabetAuthleteNames: Authlete's character set names, in
// its capitals, name our alphabets.
func TestResolveAlphabetAuthleteNames(t *testing.T) {
	t.Parallel()
	for name, want := range map[string]string{"BASE20": Base20, "NUMERIC": Digits, "numeric": Digits, "Digits": Digits} {
		if got, err := ResolveAlphabet(name); err != nil || got != want {
			t.Errorf("ResolveAlphabet(%q) = %q, %v; want %q", name, got, err, want)
		}
	}
}
