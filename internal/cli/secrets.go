package cli

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"strings"

	"github.com/latchkey/latchkey/internal/seal"
)

var secretsGroup = group{
	name: "secrets",
	about: `Make secrets keys, and re-seal the database's secrets under the first one.
Private signing keys, the mail waiting in the outbox and the server's own
secrets are sealed in the database with the secrets keys of the
configuration (secrets_keys, or LATCHKEY_SECRETS_KEY with the keys
comma-separated): the first seals, every one opens.

To change the key: put a new key first and keep the old one after it, on
every instance, and restart them; run secrets rotate; then remove the old
key. See docs/deploy.md.`,
	subs: func() []subcommand {
		return []subcommand{
			{name: "new-key", summary: "print a new secrets key", run: runSecretsNewKey},
			{name: "rotate", summary: "re-seal every secret under the first secrets key", run: runSecretsRotate},
		}
	},
}

func runSecretsNewKey(ctx context.Context, e *Env, args []string) error {
	fs := e.newFlags("secrets new-key", "secrets new-key", `
Prints a new secrets key: 256 random bits, base64url, after lk_sk_. Keep it
as you keep the database's backups apart from the database: whoever has
both can sign tokens.`)
	if _, err := e.parse(fs, args); err != nil {
		return err
	}
	k, err := seal.NewKey(rand.Reader)
	if err != nil {
		return err
	}
	fmt.Fprintln(e.Stdout, k)
	return nil
}

func runSecretsRotate(ctx context.Context, e *Env, args []string) error {
	fs := e.newFlags("secrets rotate", "secrets rotate [--db DATABASE] [--config FILE]", `
Re-seals every secret of the database under the first secrets key, and
seals any still in plaintext. It runs beside serving instances: each value
is replaced by a conditional update, so one an instance changes meanwhile
is left to it. It says how many it re-sealed, and how many it left because
an instance sealed them with another key meanwhile: an instance whose
configuration does not yet have the new key first. Run it again once every
instance has.`)
	var df dbFlags
	df.register(fs)
	if _, err := e.parse(fs, args); err != nil {
		return err
	}
	cfg, err := e.loadConfig(df, false, nil)
	if err != nil {
		return err
	}
	if len(cfg.SecretsKeys) == 0 {
		return errors.New(noSecretsKey)
	}
	ring, err := seal.Parse(cfg.SecretsKeys)
	if err != nil {
		return fmt.Errorf("secrets_keys: %w", err)
	}
	st, err := openDatabase(ctx, cfg, true)
	if err != nil {
		return err
	}
	defer st.Close()
	rep, err := st.SealSecrets(ctx, true)
	if err != nil {
		return err
	}
	ids := ring.KeyIDs()
	fmt.Fprintf(e.Stdout, "re-sealed %d secrets under key %s\n", rep.Sealed, ids[0])
	if rep.Left > 0 {
		fmt.Fprintf(e.Stdout, "%d secrets were sealed meanwhile under another key, by an instance whose secrets_keys do not start with %s: give every instance the new key first, then run secrets rotate again\n", rep.Left, ids[0])
		return fmt.Errorf("%d secrets left under another key", rep.Left)
	}
	if len(ids) > 1 {
		fmt.Fprintf(e.Stdout, "nothing is sealed under %s any more: remove it from secrets_keys once every instance has restarted\n", strings.Join(ids[1:], ", "))
	}
	return nil
}

// noSecretsKey is what serve, outside --dev, and secrets rotate say
// without a key.
const noSecretsKey = `no secrets key: Latchkey seals private signing keys and invitation links in the database with a key that is kept apart from it.
Make one with
  latchkey secrets new-key
and give it to the server as
  secrets_keys: [lk_sk_…]      in the configuration file, or
  LATCHKEY_SECRETS_KEY=lk_sk_… in its environment.
latchkey init writes one into a new configuration; serve --dev runs without one. See docs/deploy.md`
