package cli

import (
	"errors"
	"strconv"

	"github.com/latchkey/latchkey/internal/admin"
)

var registrationTokensGroup = group{
	name: "registration-tokens",
	about: `Make, list and delete initial access tokens for dynamic client
registration (RFC 7591), through the admin API of a running server. A
device maker's factory registers each unit with one: POST /oauth2/register
with "Authorization: Bearer TOKEN". Registration must be on
(registration.enabled in the configuration).`,
	trailer: adminTrailer,
	subs: func() []subcommand {
		return subs("registration-tokens",
			registrationTokens.create(op{name: "create", summary: "make an initial access token", help: `
Makes an initial access token good for --uses registrations until it
expires. The token is shown once; the server keeps only its hash.

Examples:
  latchkey registration-tokens create --uses 500 --lifetime 7d --description "TV batch 42"
  latchkey registration-tokens create --json`},
				&body{fields: []field{
					{flag: "uses", member: "uses", value: positiveCount, usage: "how many clients it may register, a `NUMBER` (default 1)"},
					{flag: "lifetime", member: "lifetime", value: lifetimeSeconds,
						usage: "how long it stays valid, a `DURATION` such as 7d or 36h (default 1d)"},
					{flag: "description", member: "description", usage: "what it is for, a `TEXT`"},
				}}),
			registrationTokens.list(op{name: "list", summary: "list initial access tokens", help: "Lists initial access tokens, used up and expired ones too until the sweeper deletes them."}),
			registrationTokens.remove(op{name: "delete", summary: "delete an initial access token", help: "Deletes an initial access token: it registers nothing more."},
				"The clients it registered stay."),
		)
	},
}

var registrationTokens = &resource[admin.RegistrationToken, admin.RegistrationTokenList]{
	one:     "registration token",
	key:     ref{name: "ID"},
	path:    "/admin/v1/registration-tokens",
	item:    "/admin/v1/registration-tokens/{ID}",
	items:   func(l *admin.RegistrationTokenList) []admin.RegistrationToken { return l.RegistrationTokens },
	columns: []string{"ID", "USES LEFT", "EXPIRES", "DESCRIPTION"},
	row: func(t *admin.RegistrationToken) []string {
		return []string{t.ID, strconv.Itoa(t.UsesLeft), t.ExpiresAt, orDash(t.Description)}
	},
	empty: "There are no registration tokens.",
	fields: func(t *admin.RegistrationToken) [][2]string {
		f := [][2]string{{"id", t.ID}}
		if t.Token != "" {
			f = append(f, [2]string{"token", t.Token})
		}
		return append(f, [][2]string{
			{"description", orDash(t.Description)},
			{"uses_left", strconv.Itoa(t.UsesLeft)},
			{"created_at", t.CreatedAt},
			{"expires_at", t.ExpiresAt},
		}...)
	},
	notice: func(t *admin.RegistrationToken) string {
		if t.Token != "" {
			return "The token is shown only now: whoever holds it can register clients until it is used up or expires."
		}
		return ""
	},
}

func positiveCount(s string) (any, error) {
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 {
		return nil, errors.New("want a whole number of at least 1")
	}
	return n, nil
}
