package account

import "testing"

func TestRegistrationAllows(t *testing.T) {
	t.Parallel()
	domains := Registration{Mode: RegistrationDomains, Domains: []string{"example.com", "corp.example.org"}}
	for _, tt := range []struct {
		name  string
		r     Registration
		email string
		want  bool
	}{
		{"zero value is open", Registration{}, "a@anywhere.example", true},
		{"open", Registration{Mode: RegistrationOpen}, "a@anywhere.example", true},
		{"off", Registration{Mode: RegistrationOff}, "a@example.com", false},
		{"listed domain", domains, "a@example.com", true},
		{"listed domain in upper case", domains, "A@EXAMPLE.COM", true},
		{"second listed domain", domains, "a@corp.example.org", true},
		{"subdomain of a listed domain", domains, "a@mail.example.com", false},
		{"parent of a listed domain", domains, "a@example.org", false},
		{"listed domain as a suffix of another", domains, "a@badexample.com", false},
		{"listed domain in the local part", domains, "example.com@evil.example", false},
		{"no domains listed", Registration{Mode: RegistrationDomains}, "a@example.com", false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.r.Allows(tt.email); got != tt.want {
				t.Errorf("%+v.Allows(%q) = %v, want %v", tt.r, tt.email, got, tt.want)
			}
		})
	}
}

func TestRegistrationDomainList(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		domains []string
		want    string
	}{
		{nil, ""},
		{[]string{"a.example"}, "a.example"},
		{[]string{"a.example", "b.example"}, "a.example or b.example"},
		{[]string{"a.example", "b.example", "c.example"}, "a.example, b.example or c.example"},
	} {
		if got := (Registration{Mode: RegistrationDomains, Domains: tt.domains}).DomainList(); got != tt.want {
			t.Errorf("DomainList(%q) = %q, want %q", tt.domains, got, tt.want)
		}
	}
}
