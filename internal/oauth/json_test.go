package oauth

import "testing"

func TestCheckMembersAcceptsNesting(t *testing.T) {
	t.Parallel()
	for _, body := range []string{
		`{}`,
		`{"a":[1,{"b":2,"c":[]},[[]]],"d":{"e":{"f":null}},"g":"h"}`,
		`{"a":{"x":1},"b":{"x":1}}`, // the same name in two objects
		`{"a":[{"x":1},{"x":2}]}`,
	} {
		if err := checkMembers([]byte(body)); err != nil {
			t.Errorf("checkMembers(%s) = %v, want nil", body, err)
		}
	}
}
