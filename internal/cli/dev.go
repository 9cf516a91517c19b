package cli

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/latchkey/latchkey/internal/account"
	"github.com/latchkey/latchkey/internal/config"
	"github.com/latchkey/latchkey/internal/oauth"
	"github.com/latchkey/latchkey/internal/store"
)

// The development data `serve --dev` creates when missing (docs/architecture.md, "Development mode").
const (
	devEmail        = "dev@example.com"
	devPassword     = "dev-password"
	devDeviceClient = "latchkey-dev-device"
	devWebClient    = "latchkey-dev-web"
	devRedirectURI  = "http://127.0.0.1:8085/callback"
)

type devInfo struct {
	webSecret string // set only when the web client was created just now
}

// ensureDevData creates the development user and clients if missing, and an
// admin token kept in the database so it survives restarts.
func ensureDevData(ctx context.Context, st store.Store, cfg *config.Config) (*devInfo, error) {
	now := time.Now()
	info := &devInfo{}
	if cfg.AdminToken == "" {
		fresh, err := newAdminToken(rand.Reader)
		if err != nil {
			return nil, err
		}
		tok, err := st.ServerSecret(ctx, "dev-admin-token", []byte(fresh))
		if err != nil {
			return nil, err
		}
		cfg.AdminToken = string(tok)
	}
	if u, err := st.GetUserByEmail(ctx, devEmail); errors.Is(err, store.ErrNotFound) {
		hash, err := account.HashPassword(devPassword)
		if err != nil {
			return nil, err
		}
		u := &store.User{ID: "dev-user", Email: devEmail, Name: "Dev User", PasswordHash: hash, Sysadmin: true,
			EmailVerified: true, CreatedAt: now, UpdatedAt: now}
		if err := st.CreateUser(ctx, u); err != nil && !errors.Is(err, store.ErrConflict) {
			return nil, fmt.Errorf("create %s: %w", devEmail, err)
		}
	} else if err != nil {
		return nil, err
	} else if !u.Sysadmin || !u.EmailVerified {
		// A database from before roles or verification: the dev user is
		// the system administrator of a development server all the same,
		// and example.com reads no mail (accounts.require_verified_email
		// may be on under --dev too).
		u.Sysadmin, u.EmailVerified, u.UpdatedAt = true, true, now
		if err := st.UpdateUser(ctx, u); err != nil {
			return nil, fmt.Errorf("make %s a verified system administrator: %w", devEmail, err)
		}
	}
	scopes := []string{"openid", "profile", "email", "offline_access"}
	if _, err := st.GetClient(ctx, devDeviceClient); errors.Is(err, store.ErrNotFound) {
		c := &store.Client{
			ID: devDeviceClient, Name: "Latchkey development device", AuthMethod: store.AuthNone,
			GrantTypes: []string{store.GrantDeviceCode, store.GrantRefreshToken}, Scopes: scopes,
			CreatedAt: now, UpdatedAt: now,
		}
		if err := st.CreateClient(ctx, c); err != nil && !errors.Is(err, store.ErrConflict) {
			return nil, fmt.Errorf("create %s: %w", devDeviceClient, err)
		}
	} else if err != nil {
		return nil, err
	}
	if _, err := st.GetClient(ctx, devWebClient); errors.Is(err, store.ErrNotFound) {
		secret, err := oauth.NewSecret(rand.Reader, oauth.PrefixClientSecret)
		if err != nil {
			return nil, err
		}
		c := &store.Client{
			ID: devWebClient, Name: "Latchkey development web app", AuthMethod: store.AuthClientSecretBasic,
			SecretHash: oauth.HashSecret(secret),
			GrantTypes: []string{store.GrantAuthorizationCode, store.GrantRefreshToken}, Scopes: scopes,
			RedirectURIs: []string{devRedirectURI}, CreatedAt: now, UpdatedAt: now,
		}
		if err := st.CreateClient(ctx, c); err != nil && !errors.Is(err, store.ErrConflict) {
			return nil, fmt.Errorf("create %s: %w", devWebClient, err)
		}
		info.webSecret = secret
	} else if err != nil {
		return nil, err
	}
	return info, nil
}

func printDevBanner(w io.Writer, cfg config.Config, info *devInfo) {
	iss := cfg.IssuerURL()
	fmt.Fprintf(w, `
Latchkey is running in development mode.

  Issuer        %[1]s
  Discovery     %[1]s/.well-known/openid-configuration
  Device page   %[1]s/device
  Database      %[2]s

  Sign in as    %[3]s / %[4]s  (a system administrator)
  Device client %[5]s  (public; device_code, refresh_token)
  Web client    %[6]s  (confidential; redirect %[7]s)
`, iss, cfg.Database, devEmail, devPassword, devDeviceClient, devWebClient, devRedirectURI)
	if info.webSecret != "" {
		fmt.Fprintf(w, "  Web secret    %s  (shown once; it is stored only as a hash)\n", info.webSecret)
	} else {
		fmt.Fprintf(w, "  Web secret    shown when it was created; get a new one with: latchkey clients rotate-secret %s\n", devWebClient)
	}
	fmt.Fprintf(w, `  Admin token   %[1]s

Try the device flow from another terminal:
  latchkey device-login --issuer %[2]s --client-id %[3]s

Manage clients and users (the admin API):
  export LATCHKEY_ADMIN_TOKEN=%[1]s
  latchkey clients list --endpoint %[2]s

`, cfg.AdminToken, iss, devDeviceClient)
}
