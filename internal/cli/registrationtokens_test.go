package cli

import (
	"strings"
	"testing"

	"github.com/latchkey/latchkey/internal/oauth"
)

func TestRegistrationTokensCommands(t *testing.T) {
	t.Parallel()
	e := startAdmin(t)
	out, errOut, err := e.run(t, "", "registration-tokens", "create", "--uses", "500", "--lifetime", "7d", "--description", "TV batch 42")
	if err != nil {
		t.Fatalf("create: %v\n%s", err, errOut)
	}
	token := textField(t, out, "token")
	wantFields(t, "create", out, map[string]string{"uses_left": "500", "description": "TV batch 42", "expires_at": "2026-03-11T05:06:07Z"})
	if !strings.HasPrefix(token, oauth.PrefixInitialAccess) || !strings.Contains(errOut, "shown only now") {
		t.Errorf("create: token %q, stderr %q", token, errOut)
	}
	if _, err := e.store.GetRegistrationToken(t.Context(), oauth.HashSecret(token)); err != nil {
		t.Errorf("the token is not stored by its hash: %v", err)
	}
	id := textField(t, out, "id")
	list := e.mustRun(t, "", "registration-tokens", "list")
	if !strings.Contains(list, id) || strings.Contains(list, token) {
		t.Errorf("list:\n%s", list)
	}
	if _, _, err := e.run(t, "", "registration-tokens", "create", "--uses", "0"); err == nil {
		t.Error("create --uses 0 succeeded")
	}
	e.mustRun(t, "", "registration-tokens", "delete", "--yes", id)
	if list := e.mustRun(t, "", "registration-tokens", "list"); !strings.Contains(list, "no registration tokens") {
		t.Errorf("list after delete:\n%s", list)
	}
}
