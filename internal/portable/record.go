package portable

import (
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/latchkey/latchkey/internal/keys"
	"github.com/latchkey/latchkey/internal/seal"
	"github.com/latchkey/latchkey/internal/store"
)

// The kinds of record lines.
const (
	kindClient       = "client"
	kindUser         = "user"
	kindSigningKey   = "signing_key"
	kindOrganization = "organization"
	kindOrgMember    = "org_member"
	kindClientGroup  = "client_group"
	// Since version 3.
	kindServiceKey        = "service_key"
	kindRegistrationToken = "registration_token"
	// Since version 4.
	kindPasskey            = "passkey"
	kindTOTP               = "totp"
	kindClientRegistration = "client_registration"
	kindRevokedAccessToken = "revoked_access_token"
)

// header is the first line of an export. The counts let Import notice a
// file that was cut short.
type header struct {
	Kind        string    `json:"kind"`
	Version     int       `json:"version"`
	ExportedAt  timestamp `json:"exported_at"`
	Clients     int       `json:"clients"`
	Users       int       `json:"users"`
	SigningKeys int       `json:"signing_keys"`
	// Since version 2.
	Organizations int `json:"organizations,omitempty"`
	OrgMembers    int `json:"org_members,omitempty"`
	ClientGroups  int `json:"client_groups,omitempty"`
	// Since version 3.
	ServiceKeys        int `json:"service_keys,omitempty"`
	RegistrationTokens int `json:"registration_tokens,omitempty"`
	// Since version 4.
	Passkeys            int    `json:"passkeys,omitempty"`
	TOTP                int    `json:"totp,omitempty"`
	ClientRegistrations int    `json:"client_registrations,omitempty"`
	RevokedAccessTokens int    `json:"revoked_access_tokens,omitempty"`
	Warning             string `json:"warning,omitempty"`
}

// clientLine is a store.Client. Durations are whole milliseconds, which is
// what the backends keep.
type clientLine struct {
	Kind                 string   `json:"kind"`
	ID                   string   `json:"id"`
	Name                 string   `json:"name"`
	SecretHash           string   `json:"secret_hash,omitempty"` // hex SHA-256; the secret itself was never stored
	AuthMethod           string   `json:"auth_method"`
	GrantTypes           []string `json:"grant_types"`
	RedirectURIs         []string `json:"redirect_uris"`
	Scopes               []string `json:"scopes"`
	UserCode             userCode `json:"user_code,omitzero"`
	DeviceCodeLifetimeMS int64    `json:"device_code_lifetime_ms,omitempty"`
	PollIntervalMS       int64    `json:"poll_interval_ms,omitempty"`
	// PostLogoutRedirectURIs and SessionAttachment came with format version
	// 1's later additions; absent, they are empty and detached.
	PostLogoutRedirectURIs []string `json:"post_logout_redirect_uris,omitempty"`
	SessionAttachment      string   `json:"session_attachment,omitempty"`
	OrgID                  string   `json:"org_id,omitempty"` // the organization that owns it (version 2)
	// The token policy came with version 2's later additions; absent, each
	// setting is the server's, as it was for every client before.
	IDTokenSigningAlg     string `json:"id_token_signing_alg,omitempty"`
	AccessTokenLifetimeMS int64  `json:"access_token_lifetime_ms,omitempty"`
	IDTokenLifetimeMS     int64  `json:"id_token_lifetime_ms,omitempty"`
	RefreshLifetimeMS     int64  `json:"refresh_lifetime_ms,omitempty"`
	RefreshIdleLifetimeMS int64  `json:"refresh_idle_lifetime_ms,omitempty"`
	RefreshTokenPolicy    string `json:"refresh_token_policy,omitempty"`
	DPoPBound             bool   `json:"dpop_bound_access_tokens,omitempty"` // RFC 9449 §5.2 (version 2's later additions)
	// TokensRevokedAt: every token the client got for itself issued at or
	// before it stays revoked (version 4).
	TokensRevokedAt timestamp `json:"tokens_revoked_at,omitzero"`
	CreatedAt       timestamp `json:"created_at,omitzero"`
	UpdatedAt       timestamp `json:"updated_at,omitzero"`
}

// userCode is a store.UserCodePolicy.
type userCode struct {
	Alphabet string `json:"alphabet,omitempty"`
	Length   int    `json:"length,omitempty"`
	Group    int    `json:"group,omitempty"`
}

// userLine is a store.User.
type userLine struct {
	Kind         string `json:"kind"`
	ID           string `json:"id"`
	Email        string `json:"email"`
	Name         string `json:"name"`
	PasswordHash string `json:"password_hash,omitempty"` // PHC-formatted argon2id
	// EmailVerified: the person proved the address (version 4; absent,
	// false, as every import before it made it).
	EmailVerified bool      `json:"email_verified,omitempty"`
	Disabled      bool      `json:"disabled,omitempty"`
	Sysadmin      bool      `json:"sysadmin,omitempty"`
	CreatedAt     timestamp `json:"created_at,omitzero"`
	UpdatedAt     timestamp `json:"updated_at,omitzero"`
}

// orgLine is a store.Organization.
type orgLine struct {
	Kind      string    `json:"kind"`
	ID        string    `json:"id"`
	Name      string    `json:"name"`
	AppLink   string    `json:"app_link,omitempty"`
	CreatedAt timestamp `json:"created_at,omitzero"`
	UpdatedAt timestamp `json:"updated_at,omitzero"`
}

// memberLine is a store.OrgMember.
type memberLine struct {
	Kind      string    `json:"kind"`
	OrgID     string    `json:"org_id"`
	UserID    string    `json:"user_id"`
	Role      string    `json:"role"`
	CreatedAt timestamp `json:"created_at,omitzero"`
}

// groupLine is a store.ClientGroup with the ids of the clients in it.
// When each client joined is not kept: on import they join at the group's
// creation time.
type groupLine struct {
	Kind        string    `json:"kind"`
	ID          string    `json:"id"`
	OrgID       string    `json:"org_id"`
	Name        string    `json:"name"`
	Description string    `json:"description,omitempty"`
	Scopes      []string  `json:"scopes"`
	Clients     []string  `json:"clients"`
	CreatedAt   timestamp `json:"created_at,omitzero"`
	UpdatedAt   timestamp `json:"updated_at,omitzero"`
}

// keyLine is a store.SigningKey. encoding/json writes []byte as standard
// base64.
type keyLine struct {
	Kind       string    `json:"kind"`
	ID         string    `json:"id"`
	Algorithm  string    `json:"algorithm"`
	PrivateKey []byte    `json:"private_key"` // PKCS #8, DER
	CreatedAt  timestamp `json:"created_at,omitzero"`
	NotBefore  timestamp `json:"not_before,omitzero"`
	NotAfter   timestamp `json:"not_after,omitzero"`
}

func clientToLine(c *store.Client) (clientLine, error) {
	text := append([]string{c.ID, c.Name, c.SecretHash, c.AuthMethod, c.UserCode.Alphabet}, c.GrantTypes...)
	text = append(append(text, c.RedirectURIs...), c.Scopes...)
	text = append(append(text, c.PostLogoutRedirectURIs...), c.SessionAttachment, c.OrgID, c.Tokens.IDTokenSigningAlg, c.Tokens.RefreshTokens)
	if !allUTF8(text) {
		return clientLine{}, fmt.Errorf("client %q: %w", c.ID, errNotUTF8)
	}
	return clientLine{
		Kind:                   kindClient,
		ID:                     c.ID,
		Name:                   c.Name,
		SecretHash:             c.SecretHash,
		AuthMethod:             c.AuthMethod,
		GrantTypes:             nonNil(c.GrantTypes),
		RedirectURIs:           nonNil(c.RedirectURIs),
		Scopes:                 nonNil(c.Scopes),
		UserCode:               userCode(c.UserCode),
		DeviceCodeLifetimeMS:   c.DeviceCodeLifetime.Milliseconds(),
		PollIntervalMS:         c.PollInterval.Milliseconds(),
		PostLogoutRedirectURIs: c.PostLogoutRedirectURIs,
		SessionAttachment:      c.SessionAttachment,
		OrgID:                  c.OrgID,
		IDTokenSigningAlg:      c.Tokens.IDTokenSigningAlg,
		AccessTokenLifetimeMS:  c.Tokens.AccessTokenLifetime.Milliseconds(),
		IDTokenLifetimeMS:      c.Tokens.IDTokenLifetime.Milliseconds(),
		RefreshLifetimeMS:      c.Tokens.RefreshLifetime.Milliseconds(),
		RefreshIdleLifetimeMS:  c.Tokens.RefreshIdleLifetime.Milliseconds(),
		RefreshTokenPolicy:     c.Tokens.RefreshTokens,
		DPoPBound:              c.DPoPBound,
		TokensRevokedAt:        timestamp(c.TokensRevokedAt),
		CreatedAt:              timestamp(c.CreatedAt),
		UpdatedAt:              timestamp(c.UpdatedAt),
	}, nil
}

// serviceKeyLine is a store.ServiceKey: a service API credential, with
// its secret's hash (the secret itself was never stored), so a front end
// keeps working against the new database.
type serviceKeyLine struct {
	Kind       string    `json:"kind"`
	ID         string    `json:"id"`
	Name       string    `json:"name"`
	SecretHash string    `json:"secret_hash"`
	CreatedAt  timestamp `json:"created_at,omitzero"`
	RotatedAt  timestamp `json:"rotated_at,omitzero"`
}

// registrationTokenLine is a store.RegistrationToken: an initial access
// token for dynamic client registration, by its hash, with the uses it
// has left.
type registrationTokenLine struct {
	Kind        string    `json:"kind"`
	ID          string    `json:"id"`
	Hash        string    `json:"hash"`
	Description string    `json:"description,omitempty"`
	UsesLeft    int       `json:"uses_left"`
	CreatedAt   timestamp `json:"created_at,omitzero"`
	ExpiresAt   timestamp `json:"expires_at"`
}

func serviceKeyToLine(k *store.ServiceKey) (serviceKeyLine, error) {
	if !allUTF8([]string{k.ID, k.Name, k.SecretHash}) {
		return serviceKeyLine{}, fmt.Errorf("service key %q: %w", k.ID, errNotUTF8)
	}
	return serviceKeyLine{Kind: kindServiceKey, ID: k.ID, Name: k.Name, SecretHash: k.SecretHash,
		CreatedAt: timestamp(k.CreatedAt), RotatedAt: timestamp(k.RotatedAt)}, nil
}

func registrationTokenToLine(t *store.RegistrationToken) (registrationTokenLine, error) {
	if !allUTF8([]string{t.ID, t.Hash, t.Description}) {
		return registrationTokenLine{}, fmt.Errorf("registration token %q: %w", t.ID, errNotUTF8)
	}
	return registrationTokenLine{Kind: kindRegistrationToken, ID: t.ID, Hash: t.Hash, Description: t.Description,
		UsesLeft: t.UsesLeft, CreatedAt: timestamp(t.CreatedAt), ExpiresAt: timestamp(t.ExpiresAt)}, nil
}

func (l serviceKeyLine) toStore() (*store.ServiceKey, error) {
	switch {
	case l.ID == "":
		return nil, errors.New("service_key: id is empty")
	case l.Name == "":
		return nil, fmt.Errorf("service key %q: name is empty", l.ID)
	case !isSHA256Hex(l.SecretHash):
		return nil, fmt.Errorf("service key %q: secret_hash is not a hex SHA-256 (64 lower-case hex digits)", l.ID)
	}
	return &store.ServiceKey{ID: l.ID, Name: l.Name, SecretHash: l.SecretHash,
		CreatedAt: time.Time(l.CreatedAt), RotatedAt: time.Time(l.RotatedAt)}, nil
}

func (l registrationTokenLine) toStore() (*store.RegistrationToken, error) {
	switch {
	case l.ID == "":
		return nil, errors.New("registration_token: id is empty")
	case !isSHA256Hex(l.Hash):
		return nil, fmt.Errorf("registration token %q: hash is not a hex SHA-256 (64 lower-case hex digits)", l.ID)
	case l.UsesLeft < 0:
		return nil, fmt.Errorf("registration token %q: uses_left is negative", l.ID)
	case l.ExpiresAt.IsZero():
		return nil, fmt.Errorf("registration token %q: expires_at is required", l.ID)
	}
	return &store.RegistrationToken{ID: l.ID, Hash: l.Hash, Description: l.Description, UsesLeft: l.UsesLeft,
		CreatedAt: time.Time(l.CreatedAt), ExpiresAt: time.Time(l.ExpiresAt)}, nil
}

func orgToLine(o *store.Organization) (orgLine, error) {
	if !allUTF8([]string{o.ID, o.Name, o.AppLink}) {
		return orgLine{}, fmt.Errorf("organization %q: %w", o.ID, errNotUTF8)
	}
	return orgLine{Kind: kindOrganization, ID: o.ID, Name: o.Name, AppLink: o.AppLink,
		CreatedAt: timestamp(o.CreatedAt), UpdatedAt: timestamp(o.UpdatedAt)}, nil
}

func memberToLine(m *store.OrgMember) (memberLine, error) {
	if !allUTF8([]string{m.OrgID, m.UserID, m.Role}) {
		return memberLine{}, fmt.Errorf("member %q of organization %q: %w", m.UserID, m.OrgID, errNotUTF8)
	}
	return memberLine{Kind: kindOrgMember, OrgID: m.OrgID, UserID: m.UserID, Role: m.Role, CreatedAt: timestamp(m.CreatedAt)}, nil
}

func groupToLine(g *store.ClientGroup, clients []string) (groupLine, error) {
	if !allUTF8(append(append([]string{g.ID, g.OrgID, g.Name, g.Description}, g.Scopes...), clients...)) {
		return groupLine{}, fmt.Errorf("client group %q: %w", g.ID, errNotUTF8)
	}
	return groupLine{Kind: kindClientGroup, ID: g.ID, OrgID: g.OrgID, Name: g.Name, Description: g.Description,
		Scopes: nonNil(g.Scopes), Clients: nonNil(clients), CreatedAt: timestamp(g.CreatedAt), UpdatedAt: timestamp(g.UpdatedAt)}, nil
}

func userToLine(u *store.User) (userLine, error) {
	if !allUTF8([]string{u.ID, u.Email, u.Name, u.PasswordHash}) {
		return userLine{}, fmt.Errorf("user %q: %w", u.ID, errNotUTF8)
	}
	return userLine{
		Kind:          kindUser,
		ID:            u.ID,
		Email:         u.Email,
		Name:          u.Name,
		PasswordHash:  u.PasswordHash,
		EmailVerified: u.EmailVerified,
		Disabled:      u.Disabled,
		Sysadmin:      u.Sysadmin,
		CreatedAt:     timestamp(u.CreatedAt),
		UpdatedAt:     timestamp(u.UpdatedAt),
	}, nil
}

func keyToLine(k *store.SigningKey) (keyLine, error) {
	if !allUTF8([]string{k.ID, k.Algorithm}) {
		return keyLine{}, fmt.Errorf("signing key %q: %w", k.ID, errNotUTF8)
	}
	return keyLine{
		Kind:       kindSigningKey,
		ID:         k.ID,
		Algorithm:  k.Algorithm,
		PrivateKey: k.PrivateKey,
		CreatedAt:  timestamp(k.CreatedAt),
		NotBefore:  timestamp(k.NotBefore),
		NotAfter:   timestamp(k.NotAfter),
	}, nil
}

// errNotUTF8: JSON strings are Unicode, and encoding/json would silently
// replace the bytes it cannot carry; a changed id or hash is worse than no
// export.
var errNotUTF8 = errors.New("a field is not valid UTF-8, so JSON cannot carry it unchanged")

func allUTF8(ss []string) bool {
	for _, s := range ss {
		if !utf8.ValidString(s) {
			return false
		}
	}
	return true
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

var (
	authMethods = []string{store.AuthNone, store.AuthClientSecretBasic, store.AuthClientSecretPost}
	grantTypes  = []string{store.GrantDeviceCode, store.GrantRefreshToken, store.GrantAuthorizationCode, store.GrantClientCredentials}
)

func (l clientLine) toStore() (*store.Client, error) {
	bad := func(format string, args ...any) (*store.Client, error) {
		return nil, fmt.Errorf("client %q: %s", l.ID, fmt.Sprintf(format, args...))
	}
	switch {
	case l.ID == "":
		return nil, errors.New("client: id is empty")
	case !slices.Contains(authMethods, l.AuthMethod):
		return bad("auth_method %q: want %s", l.AuthMethod, strings.Join(authMethods, ", "))
	case l.AuthMethod == store.AuthNone && l.SecretHash != "":
		return bad("a public client (auth_method none) has no secret_hash")
	case l.AuthMethod != store.AuthNone && !isSHA256Hex(l.SecretHash):
		return bad("secret_hash: a confidential client needs the hex SHA-256 of its secret (64 lower-case hex digits)")
	case l.SessionAttachment != "" && l.SessionAttachment != store.SessionDetached && l.SessionAttachment != store.SessionAttached:
		return bad("session_attachment %q: want %s or %s", l.SessionAttachment, store.SessionDetached, store.SessionAttached)
	case len(l.GrantTypes) == 0:
		return bad("grant_types is empty")
	case l.UserCode.Length < 0 || l.UserCode.Group < -1:
		return bad("user_code: want length >= 0 and group >= -1")
	case l.DeviceCodeLifetimeMS < 0 || l.PollIntervalMS < 0:
		return bad("device_code_lifetime_ms and poll_interval_ms must not be negative")
	case l.IDTokenSigningAlg != "" && !keys.Supported(l.IDTokenSigningAlg):
		return bad("id_token_signing_alg %q: want %s, or none for the server's", l.IDTokenSigningAlg, strings.Join(keys.Algorithms, " or "))
	case l.AccessTokenLifetimeMS < 0 || l.IDTokenLifetimeMS < 0 || l.RefreshLifetimeMS < 0 || l.RefreshIdleLifetimeMS < 0:
		return bad("access_token_lifetime_ms, id_token_lifetime_ms, refresh_lifetime_ms and refresh_idle_lifetime_ms must not be negative")
	case l.RefreshTokenPolicy != "" && l.RefreshTokenPolicy != store.RefreshWithOfflineAccess && l.RefreshTokenPolicy != store.RefreshAlways:
		return bad("refresh_token_policy %q: want %s or %s", l.RefreshTokenPolicy, store.RefreshWithOfflineAccess, store.RefreshAlways)
	}
	for i, gt := range l.GrantTypes {
		if !slices.Contains(grantTypes, gt) {
			return bad("grant_types: %q is not one of %s", gt, strings.Join(grantTypes, ", "))
		}
		if slices.Contains(l.GrantTypes[:i], gt) {
			return bad("grant_types lists %s twice", gt)
		}
	}
	return &store.Client{
		ID:                     l.ID,
		Name:                   l.Name,
		SecretHash:             l.SecretHash,
		AuthMethod:             l.AuthMethod,
		GrantTypes:             l.GrantTypes,
		RedirectURIs:           l.RedirectURIs,
		Scopes:                 l.Scopes,
		UserCode:               store.UserCodePolicy(l.UserCode),
		DeviceCodeLifetime:     time.Duration(l.DeviceCodeLifetimeMS) * time.Millisecond,
		PollInterval:           time.Duration(l.PollIntervalMS) * time.Millisecond,
		PostLogoutRedirectURIs: l.PostLogoutRedirectURIs,
		SessionAttachment:      l.SessionAttachment,
		OrgID:                  l.OrgID,
		Tokens: store.TokenPolicy{
			IDTokenSigningAlg:   l.IDTokenSigningAlg,
			AccessTokenLifetime: time.Duration(l.AccessTokenLifetimeMS) * time.Millisecond,
			IDTokenLifetime:     time.Duration(l.IDTokenLifetimeMS) * time.Millisecond,
			RefreshLifetime:     time.Duration(l.RefreshLifetimeMS) * time.Millisecond,
			RefreshIdleLifetime: time.Duration(l.RefreshIdleLifetimeMS) * time.Millisecond,
			RefreshTokens:       l.RefreshTokenPolicy,
		},
		DPoPBound:       l.DPoPBound,
		TokensRevokedAt: time.Time(l.TokensRevokedAt),
		CreatedAt:       time.Time(l.CreatedAt),
		UpdatedAt:       time.Time(l.UpdatedAt),
	}, nil
}

func (l orgLine) toStore() (*store.Organization, error) {
	switch {
	case l.ID == "":
		return nil, errors.New("organization: id is empty")
	case l.Name == "":
		return nil, fmt.Errorf("organization %q: name is empty", l.ID)
	}
	return &store.Organization{ID: l.ID, Name: l.Name, AppLink: l.AppLink,
		CreatedAt: time.Time(l.CreatedAt), UpdatedAt: time.Time(l.UpdatedAt)}, nil
}

func (l memberLine) toStore() (*store.OrgMember, error) {
	switch {
	case l.OrgID == "" || l.UserID == "":
		return nil, errors.New("org_member: org_id and user_id are required")
	case l.Role != store.RoleAdmin && l.Role != store.RoleMember:
		return nil, fmt.Errorf("member %q of organization %q: role %q: want %s or %s", l.UserID, l.OrgID, l.Role, store.RoleAdmin, store.RoleMember)
	}
	return &store.OrgMember{OrgID: l.OrgID, UserID: l.UserID, Role: l.Role, CreatedAt: time.Time(l.CreatedAt)}, nil
}

func (l groupLine) toStore() (*store.ClientGroup, []string, error) {
	switch {
	case l.ID == "":
		return nil, nil, errors.New("client_group: id is empty")
	case l.OrgID == "" || l.Name == "":
		return nil, nil, fmt.Errorf("client group %q: org_id and name are required", l.ID)
	}
	for i, c := range l.Clients {
		if c == "" || slices.Contains(l.Clients[:i], c) {
			return nil, nil, fmt.Errorf("client group %q: clients: %q is empty or listed twice", l.ID, c)
		}
	}
	return &store.ClientGroup{ID: l.ID, OrgID: l.OrgID, Name: l.Name, Description: l.Description, Scopes: l.Scopes,
		CreatedAt: time.Time(l.CreatedAt), UpdatedAt: time.Time(l.UpdatedAt)}, l.Clients, nil
}

func isSHA256Hex(s string) bool {
	_, err := hex.DecodeString(s)
	return err == nil && len(s) == 64 && s == strings.ToLower(s)
}

func (l userLine) toStore() (*store.User, error) {
	switch {
	case l.ID == "":
		return nil, errors.New("user: id is empty")
	case l.Email == "":
		return nil, fmt.Errorf("user %q: email is empty", l.ID)
	case l.PasswordHash != "" && !strings.HasPrefix(l.PasswordHash, "$argon2id$"):
		// A plain password pasted here would otherwise be stored as a
		// "hash" no login could match.
		return nil, fmt.Errorf("user %q: password_hash is not a PHC-formatted argon2id hash ($argon2id$...)", l.ID)
	}
	return &store.User{
		ID:            l.ID,
		Email:         strings.ToLower(l.Email), // as the store keeps it, so duplicates are caught here
		Name:          l.Name,
		PasswordHash:  l.PasswordHash,
		EmailVerified: l.EmailVerified,
		Disabled:      l.Disabled,
		Sysadmin:      l.Sysadmin,
		CreatedAt:     time.Time(l.CreatedAt),
		UpdatedAt:     time.Time(l.UpdatedAt),
	}, nil
}

func (l keyLine) toStore() (*store.SigningKey, error) {
	switch {
	case l.ID == "":
		return nil, errors.New("signing_key: id is empty")
	case l.Algorithm == "":
		return nil, fmt.Errorf("signing key %q: algorithm is empty", l.ID)
	case len(l.PrivateKey) == 0:
		return nil, fmt.Errorf("signing key %q: private_key is empty", l.ID)
	}
	if _, err := x509.ParsePKCS8PrivateKey(l.PrivateKey); err != nil {
		return nil, fmt.Errorf("signing key %q: private_key is not a PKCS #8 private key: %v", l.ID, err)
	}
	k := &store.SigningKey{
		ID:         l.ID,
		Algorithm:  l.Algorithm,
		PrivateKey: l.PrivateKey,
		CreatedAt:  time.Time(l.CreatedAt),
		NotBefore:  time.Time(l.NotBefore),
		NotAfter:   time.Time(l.NotAfter),
	}
	// A key the server could not load would be skipped at every start:
	// refuse it here, where the file can still be fixed.
	if _, err := keys.ParseKey(k); err != nil {
		return nil, fmt.Errorf("signing key %q: %v", l.ID, err)
	}
	return k, nil
}

// timestamp is a time written as RFC 3339 in UTC with milliseconds, the
// precision the backends keep. The zero time is left out (omitzero).
type timestamp time.Time

const timeLayout = "2006-01-02T15:04:05.000Z07:00"

func (t timestamp) IsZero() bool { return time.Time(t).IsZero() }

func (t timestamp) MarshalJSON() ([]byte, error) {
	return json.Marshal(time.Time(t).UTC().Format(timeLayout))
}

func (t *timestamp) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil || s == "" {
		return fmt.Errorf("time %s: want an RFC 3339 string such as \"2026-03-04T05:06:07.000Z\"", b)
	}
	v, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return fmt.Errorf("time %q: want RFC 3339, such as 2026-03-04T05:06:07.000Z", s)
	}
	*t = timestamp(v.UTC())
	return nil
}

// passkeyLine is a store.Passkey: a person's WebAuthn credential, its
// public key (nothing here is secret) and the sign count it has reached,
// so the authenticator signs in after a move and a clone is still caught.
// encoding/json writes []byte as standard base64.
type passkeyLine struct {
	Kind              string    `json:"kind"`
	ID                string    `json:"id"` // base64url of the credential id
	UserID            string    `json:"user_id"`
	PublicKey         []byte    `json:"public_key"` // the COSE key
	SignCount         uint32    `json:"sign_count"`
	Transports        []string  `json:"transports"`
	AAGUID            []byte    `json:"aaguid"`
	Flags             uint8     `json:"flags"`
	AttestationFormat string    `json:"attestation_format"`
	Name              string    `json:"name"`
	CreatedAt         timestamp `json:"created_at,omitzero"`
	LastUsedAt        timestamp `json:"last_used_at,omitzero"`
}

// totpLine is a store.SealedTOTP: a person's authenticator-app enrolment
// with its secret only in the sealed form the database holds (package seal:
// "lks1.<key id>.<...>", bound to the user's row), so the file holds no
// seed; the importing installation needs a secrets key that opens it. The
// recovery codes go by hash, used ones too, so a used code stays used.
type totpLine struct {
	Kind          string         `json:"kind"`
	UserID        string         `json:"user_id"`
	SecretSealed  string         `json:"secret_sealed"`
	CreatedAt     timestamp      `json:"created_at,omitzero"`
	ConfirmedAt   timestamp      `json:"confirmed_at,omitzero"` // absent while unconfirmed
	LastStep      int64          `json:"last_step"`             // the last RFC 6238 time step accepted
	RecoveryCodes []recoveryLine `json:"recovery_codes"`
}

type recoveryLine struct {
	Hash   string    `json:"hash"`
	UsedAt timestamp `json:"used_at,omitzero"`
}

// clientRegistrationLine is a store.ClientRegistration: the hash of a
// dynamically registered client's registration access token (RFC 7592),
// so the client still reads and updates its registration after a move.
type clientRegistrationLine struct {
	Kind       string    `json:"kind"`
	ClientID   string    `json:"client_id"`
	AccessHash string    `json:"access_hash"`
	CreatedAt  timestamp `json:"created_at"`
}

func passkeyToLine(p *store.Passkey) (passkeyLine, error) {
	if !allUTF8(append([]string{p.ID, p.UserID, p.AttestationFormat, p.Name}, p.Transports...)) {
		return passkeyLine{}, fmt.Errorf("passkey %q: %w", p.ID, errNotUTF8)
	}
	return passkeyLine{Kind: kindPasskey, ID: p.ID, UserID: p.UserID, PublicKey: p.PublicKey, SignCount: p.SignCount,
		Transports: nonNil(p.Transports), AAGUID: p.AAGUID, Flags: p.Flags, AttestationFormat: p.AttestationFormat, Name: p.Name,
		CreatedAt: timestamp(p.CreatedAt), LastUsedAt: timestamp(p.LastUsedAt)}, nil
}

func (l passkeyLine) toStore() (*store.Passkey, error) {
	switch {
	case l.ID == "":
		return nil, errors.New("passkey: id is empty")
	case l.UserID == "":
		return nil, fmt.Errorf("passkey %q: user_id is empty", l.ID)
	case len(l.PublicKey) == 0:
		return nil, fmt.Errorf("passkey %q: public_key is empty", l.ID)
	case len(l.AAGUID) != 0 && len(l.AAGUID) != 16:
		return nil, fmt.Errorf("passkey %q: aaguid is %d bytes, want 16", l.ID, len(l.AAGUID))
	case len(l.Name) > store.MaxPasskeyName:
		return nil, fmt.Errorf("passkey %q: name is longer than %d bytes", l.ID, store.MaxPasskeyName)
	}
	return &store.Passkey{ID: l.ID, UserID: l.UserID, PublicKey: l.PublicKey, SignCount: l.SignCount, Transports: l.Transports,
		AAGUID: l.AAGUID, Flags: l.Flags, AttestationFormat: l.AttestationFormat, Name: l.Name,
		CreatedAt: time.Time(l.CreatedAt), LastUsedAt: time.Time(l.LastUsedAt)}, nil
}

// errUnsealedTOTP: an export carries a TOTP secret only sealed.
var errUnsealedTOTP = errors.New("its TOTP secret is stored unsealed (the database has never had a secrets key), " +
	"and an export carries it only sealed: export with the installation's secrets_keys (LATCHKEY_SECRETS_KEY) set, which seals it first")

func totpToLine(t *store.SealedTOTP) (totpLine, error) {
	if !seal.Sealed(t.Secret) {
		return totpLine{}, fmt.Errorf("user %q: %w", t.UserID, errUnsealedTOTP)
	}
	text := []string{t.UserID, string(t.Secret)}
	codes := make([]recoveryLine, len(t.Recovery))
	for i, c := range t.Recovery {
		text = append(text, c.Hash)
		codes[i] = recoveryLine{Hash: c.Hash, UsedAt: timestamp(c.UsedAt)}
	}
	if !allUTF8(text) {
		return totpLine{}, fmt.Errorf("totp of user %q: %w", t.UserID, errNotUTF8)
	}
	return totpLine{Kind: kindTOTP, UserID: t.UserID, SecretSealed: string(t.Secret), CreatedAt: timestamp(t.CreatedAt),
		ConfirmedAt: timestamp(t.ConfirmedAt), LastStep: t.LastStep, RecoveryCodes: codes}, nil
}

func (l totpLine) toStore() (*store.SealedTOTP, error) {
	switch {
	case l.UserID == "":
		return nil, errors.New("totp: user_id is empty")
	case !seal.Sealed([]byte(l.SecretSealed)):
		// A seed pasted here would be a plaintext secret in the file.
		return nil, fmt.Errorf("totp of user %q: secret_sealed is not a sealed value (lks1.…): an export carries the secret only sealed", l.UserID)
	case l.LastStep < 0:
		return nil, fmt.Errorf("totp of user %q: last_step is negative", l.UserID)
	case l.ConfirmedAt.IsZero() && len(l.RecoveryCodes) > 0:
		return nil, fmt.Errorf("totp of user %q: an unconfirmed enrolment has no recovery codes", l.UserID)
	}
	t := &store.SealedTOTP{UserID: l.UserID, Secret: []byte(l.SecretSealed), CreatedAt: time.Time(l.CreatedAt),
		ConfirmedAt: time.Time(l.ConfirmedAt), LastStep: l.LastStep}
	for i, c := range l.RecoveryCodes {
		if !isSHA256Hex(c.Hash) {
			return nil, fmt.Errorf("totp of user %q: recovery code %d: hash is not a hex SHA-256 (64 lower-case hex digits)", l.UserID, i+1)
		}
		for _, d := range l.RecoveryCodes[:i] {
			if d.Hash == c.Hash {
				return nil, fmt.Errorf("totp of user %q: recovery code %d: its hash is listed twice", l.UserID, i+1)
			}
		}
		t.Recovery = append(t.Recovery, store.RecoveryCode{Hash: c.Hash, UsedAt: time.Time(c.UsedAt)})
	}
	return t, nil
}

func clientRegistrationToLine(r *store.ClientRegistration) (clientRegistrationLine, error) {
	if !allUTF8([]string{r.ClientID, r.AccessHash}) {
		return clientRegistrationLine{}, fmt.Errorf("client registration %q: %w", r.ClientID, errNotUTF8)
	}
	return clientRegistrationLine{Kind: kindClientRegistration, ClientID: r.ClientID, AccessHash: r.AccessHash,
		CreatedAt: timestamp(r.CreatedAt)}, nil
}

func (l clientRegistrationLine) toStore() (*store.ClientRegistration, error) {
	switch {
	case l.ClientID == "":
		return nil, errors.New("client_registration: client_id is empty")
	case !isSHA256Hex(l.AccessHash):
		return nil, fmt.Errorf("client registration %q: access_hash is not a hex SHA-256 (64 lower-case hex digits)", l.ClientID)
	case l.CreatedAt.IsZero():
		return nil, fmt.Errorf("client registration %q: created_at is required", l.ClientID)
	}
	return &store.ClientRegistration{ClientID: l.ClientID, AccessHash: l.AccessHash, CreatedAt: time.Time(l.CreatedAt)}, nil
}

// revokedLine is a store.RevokedAccessToken: an access token a client got
// for itself and that was revoked (RFC 7009) before it expired, so it
// stays revoked after a move.
type revokedLine struct {
	Kind      string    `json:"kind"`
	JTI       string    `json:"jti"`
	ClientID  string    `json:"client_id"`
	ExpiresAt timestamp `json:"expires_at"`
}

func revokedToLine(r *store.RevokedAccessToken) (revokedLine, error) {
	if !allUTF8([]string{r.JTI, r.ClientID}) {
		return revokedLine{}, fmt.Errorf("revoked access token %q: %w", r.JTI, errNotUTF8)
	}
	return revokedLine{Kind: kindRevokedAccessToken, JTI: r.JTI, ClientID: r.ClientID, ExpiresAt: timestamp(r.ExpiresAt)}, nil
}

func (l revokedLine) toStore() (*store.RevokedAccessToken, error) {
	switch {
	case l.JTI == "":
		return nil, errors.New("revoked_access_token: jti is empty")
	case l.ClientID == "":
		return nil, fmt.Errorf("revoked access token %q: client_id is empty", l.JTI)
	case l.ExpiresAt.IsZero():
		return nil, fmt.Errorf("revoked access token %q: expires_at is required", l.JTI)
	}
	return &store.RevokedAccessToken{JTI: l.JTI, ClientID: l.ClientID, ExpiresAt: time.Time(l.ExpiresAt)}, nil
}
