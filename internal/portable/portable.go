// Package portable moves an installation's durable records between
// databases as JSON lines: clients (with their secret hashes and when
// their tokens were last revoked), users (with their password hashes and
// whether their address is verified), signing keys (with their private
// keys), organizations with their members and device client groups (with
// the clients in each), service API keys (with their secret hashes),
// registration tokens (by hash, with the uses they have left), and since
// format version 4 what people and devices sign in with beyond a password:
// passkeys, TOTP second factors (the secret sealed as the database holds
// it, recovery codes by hash) and dynamically registered clients'
// registration access tokens (by hash); for example from SQLite to
// PostgreSQL.
//
// It leaves the rest behind (docs/postgres.md lists it, with the reasons).
// Grants and refresh tokens cannot be listed through package store, and
// sessions, device authorizations, pending invitations, mailed links and
// throttle counters are short-lived, so after a move devices and browsers
// sign in again, and unanswered invitations are sent again. The schema is
// the backends' business; this package speaks only the store's interfaces
// (Store).
package portable

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/latchkey/latchkey/internal/seal"
	"github.com/latchkey/latchkey/internal/store"
)

// Kind and Version identify the format in the header line.
const (
	Kind = "latchkey-export"
	// Version 4 added passkeys, TOTP enrolments, client registrations,
	// users' email_verified and clients' tokens_revoked_at; 3 service keys
	// and registration tokens; 2 organizations, their members and client
	// groups. Every earlier version is read too.
	Version = 4
)

// Warning is written into the header, because the file is a credential.
const Warning = "this file holds private signing keys and password hashes: keep it as secret as the database, and delete it after the import"

// maxLine bounds one line of the input, so a file without newlines cannot
// make Import hold it all in one buffer.
const maxLine = 16 << 20

// Store is what moving records reads (Export) and writes (Import).
type Store interface {
	ListClients(ctx context.Context) ([]*store.Client, error)
	GetClient(ctx context.Context, id string) (*store.Client, error)
	CreateClient(ctx context.Context, c *store.Client) error

	ListUsers(ctx context.Context) ([]*store.User, error)
	GetUser(ctx context.Context, id string) (*store.User, error)
	GetUserByEmail(ctx context.Context, email string) (*store.User, error)
	CreateUser(ctx context.Context, u *store.User) error

	ListSigningKeys(ctx context.Context) ([]*store.SigningKey, error)
	CreateSigningKey(ctx context.Context, k *store.SigningKey) error

	ListOrganizations(ctx context.Context) ([]*store.Organization, error)
	GetOrganization(ctx context.Context, id string) (*store.Organization, error)
	CreateOrganization(ctx context.Context, o *store.Organization) error
	ListOrgMembers(ctx context.Context, orgID string) ([]*store.OrgMember, error)
	GetOrgMember(ctx context.Context, orgID, userID string) (*store.OrgMember, error)
	PutOrgMember(ctx context.Context, m *store.OrgMember) error

	ListClientGroups(ctx context.Context, orgID string) ([]*store.ClientGroup, error)
	GetClientGroup(ctx context.Context, id string) (*store.ClientGroup, error)
	CreateClientGroup(ctx context.Context, g *store.ClientGroup) error
	ListGroupClients(ctx context.Context, groupID string) ([]string, error)
	AddGroupClient(ctx context.Context, groupID, clientID string, at time.Time) error

	ListServiceKeys(ctx context.Context) ([]*store.ServiceKey, error)
	CreateServiceKey(ctx context.Context, k *store.ServiceKey) error
	ListRegistrationTokens(ctx context.Context) ([]*store.RegistrationToken, error)
	GetRegistrationToken(ctx context.Context, hash string) (*store.RegistrationToken, error)
	CreateRegistrationToken(ctx context.Context, t *store.RegistrationToken) error

	ListAllPasskeys(ctx context.Context) ([]*store.Passkey, error)
	GetPasskey(ctx context.Context, id string) (*store.Passkey, error)
	CreatePasskey(ctx context.Context, p *store.Passkey) error
	ListSealedTOTP(ctx context.Context) ([]*store.SealedTOTP, error)
	CheckSealedTOTP(userID string, sealed []byte) error
	CreateSealedTOTP(ctx context.Context, t *store.SealedTOTP) error
	ListClientRegistrations(ctx context.Context) ([]*store.ClientRegistration, error)
	ClientRegistrationHash(ctx context.Context, clientID string) (string, error)
	CreateClientRegistration(ctx context.Context, r *store.ClientRegistration) error
	ListRevokedAccessTokens(ctx context.Context, now time.Time) ([]*store.RevokedAccessToken, error)
	AccessTokenRevoked(ctx context.Context, jti string) (bool, error)
	RevokeAccessToken(ctx context.Context, jti, clientID string, expiresAt time.Time) error
}

// Counts says how many records of each kind were moved.
type Counts struct {
	Clients, Users, SigningKeys             int
	Organizations, OrgMembers, ClientGroups int
	ServiceKeys, RegistrationTokens         int
	Passkeys, TOTP, ClientRegistrations     int
	RevokedAccessTokens                     int
	// Skipped counts the records Import left alone because the database
	// held one with the same id already (Options.SkipExisting).
	Skipped int
}

// String reads "3 clients, 10 users, 2 signing keys", followed by the
// organizations, members and client groups when there are any.
func (c Counts) String() string {
	s := plural(c.Clients, "client") + ", " + plural(c.Users, "user") + ", " + plural(c.SigningKeys, "signing key")
	if c.Organizations+c.OrgMembers+c.ClientGroups > 0 {
		s += ", " + plural(c.Organizations, "organization") + ", " + plural(c.OrgMembers, "organization member") +
			", " + plural(c.ClientGroups, "client group")
	}
	if c.ServiceKeys+c.RegistrationTokens > 0 {
		s += ", " + plural(c.ServiceKeys, "service key") + ", " + plural(c.RegistrationTokens, "registration token")
	}
	if c.Passkeys+c.TOTP+c.ClientRegistrations > 0 {
		s += ", " + plural(c.Passkeys, "passkey") + ", " + plural(c.TOTP, "TOTP enrolment") + ", " +
			plural(c.ClientRegistrations, "client registration")
	}
	if c.RevokedAccessTokens > 0 {
		s += ", " + plural(c.RevokedAccessTokens, "revoked access token")
	}
	return s
}

// headerCounts are the counts a header announces.
func (h header) counts() Counts {
	return Counts{Clients: h.Clients, Users: h.Users, SigningKeys: h.SigningKeys,
		Organizations: h.Organizations, OrgMembers: h.OrgMembers, ClientGroups: h.ClientGroups,
		ServiceKeys: h.ServiceKeys, RegistrationTokens: h.RegistrationTokens,
		Passkeys: h.Passkeys, TOTP: h.TOTP, ClientRegistrations: h.ClientRegistrations, RevokedAccessTokens: h.RevokedAccessTokens}
}

func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}

// Export writes every record of st that moves (see the package comment) to
// w: a header line, then one JSON object per record, each after the
// records it refers to (organizations, clients, users, members, groups,
// keys, credentials, passkeys, TOTP, client registrations, revocations),
// as Import creates them. A TOTP secret stored unsealed (a database that
// never had a secrets key) fails the export: the file carries it only
// sealed.
func Export(ctx context.Context, st Store, w io.Writer) (Counts, error) {
	cs, err := st.ListClients(ctx)
	if err != nil {
		return Counts{}, fmt.Errorf("list clients: %w", err)
	}
	us, err := st.ListUsers(ctx)
	if err != nil {
		return Counts{}, fmt.Errorf("list users: %w", err)
	}
	ks, err := st.ListSigningKeys(ctx)
	if err != nil {
		return Counts{}, fmt.Errorf("list signing keys: %w", err)
	}
	orgs, err := st.ListOrganizations(ctx)
	if err != nil {
		return Counts{}, fmt.Errorf("list organizations: %w", err)
	}
	sks, err := st.ListServiceKeys(ctx)
	if err != nil {
		return Counts{}, fmt.Errorf("list service keys: %w", err)
	}
	rts, err := st.ListRegistrationTokens(ctx)
	if err != nil {
		return Counts{}, fmt.Errorf("list registration tokens: %w", err)
	}
	pks, err := st.ListAllPasskeys(ctx)
	if err != nil {
		return Counts{}, fmt.Errorf("list passkeys: %w", err)
	}
	tts, err := st.ListSealedTOTP(ctx)
	if err != nil {
		return Counts{}, fmt.Errorf("list TOTP enrolments: %w", err)
	}
	crs, err := st.ListClientRegistrations(ctx)
	if err != nil {
		return Counts{}, fmt.Errorf("list client registrations: %w", err)
	}
	now := time.Now()
	rjs, err := st.ListRevokedAccessTokens(ctx, now)
	if err != nil {
		return Counts{}, fmt.Errorf("list revoked access tokens: %w", err)
	}
	n := Counts{Clients: len(cs), Users: len(us), SigningKeys: len(ks), Organizations: len(orgs),
		ServiceKeys: len(sks), RegistrationTokens: len(rts), Passkeys: len(pks), TOTP: len(tts), ClientRegistrations: len(crs),
		RevokedAccessTokens: len(rjs)}

	// Every record is converted before the first byte is written, so a
	// record JSON cannot carry leaves no half-written file behind. The order
	// is Import's: organizations, clients, users, members, groups, keys.
	var orgLines, memberLines, groupLines []any
	for _, o := range orgs {
		l, err := orgToLine(o)
		if err != nil {
			return Counts{}, err
		}
		orgLines = append(orgLines, l)
		ms, err := st.ListOrgMembers(ctx, o.ID)
		if err != nil {
			return Counts{}, fmt.Errorf("list members of %q: %w", o.ID, err)
		}
		for _, m := range ms {
			l, err := memberToLine(m)
			if err != nil {
				return Counts{}, err
			}
			memberLines = append(memberLines, l)
		}
		gs, err := st.ListClientGroups(ctx, o.ID)
		if err != nil {
			return Counts{}, fmt.Errorf("list client groups of %q: %w", o.ID, err)
		}
		for _, g := range gs {
			ids, err := st.ListGroupClients(ctx, g.ID)
			if err != nil {
				return Counts{}, fmt.Errorf("list clients of group %q: %w", g.ID, err)
			}
			l, err := groupToLine(g, ids)
			if err != nil {
				return Counts{}, err
			}
			groupLines = append(groupLines, l)
		}
	}
	n.OrgMembers, n.ClientGroups = len(memberLines), len(groupLines)
	lines := []any{header{
		Kind: Kind, Version: Version, ExportedAt: timestamp(now),
		Clients: n.Clients, Users: n.Users, SigningKeys: n.SigningKeys,
		Organizations: n.Organizations, OrgMembers: n.OrgMembers, ClientGroups: n.ClientGroups,
		ServiceKeys: n.ServiceKeys, RegistrationTokens: n.RegistrationTokens,
		Passkeys: n.Passkeys, TOTP: n.TOTP, ClientRegistrations: n.ClientRegistrations, RevokedAccessTokens: n.RevokedAccessTokens,
		Warning: Warning,
	}}
	lines = append(lines, orgLines...)
	for _, c := range cs {
		l, err := clientToLine(c)
		if err != nil {
			return Counts{}, err
		}
		lines = append(lines, l)
	}
	for _, u := range us {
		l, err := userToLine(u)
		if err != nil {
			return Counts{}, err
		}
		lines = append(lines, l)
	}
	lines = append(append(lines, memberLines...), groupLines...)
	for _, k := range ks {
		l, err := keyToLine(k)
		if err != nil {
			return Counts{}, err
		}
		lines = append(lines, l)
	}
	for _, k := range sks {
		l, err := serviceKeyToLine(k)
		if err != nil {
			return Counts{}, err
		}
		lines = append(lines, l)
	}
	for _, t := range rts {
		l, err := registrationTokenToLine(t)
		if err != nil {
			return Counts{}, err
		}
		lines = append(lines, l)
	}
	for _, p := range pks {
		l, err := passkeyToLine(p)
		if err != nil {
			return Counts{}, err
		}
		lines = append(lines, l)
	}
	for _, t := range tts {
		l, err := totpToLine(t)
		if err != nil {
			return Counts{}, err
		}
		lines = append(lines, l)
	}
	for _, r := range crs {
		l, err := clientRegistrationToLine(r)
		if err != nil {
			return Counts{}, err
		}
		lines = append(lines, l)
	}
	for _, r := range rjs {
		l, err := revokedToLine(r)
		if err != nil {
			return Counts{}, err
		}
		lines = append(lines, l)
	}

	bw := bufio.NewWriter(w)
	enc := json.NewEncoder(bw) // one value and a newline per Encode
	enc.SetEscapeHTML(false)
	for _, l := range lines {
		if err := enc.Encode(l); err != nil {
			return Counts{}, err
		}
	}
	if err := bw.Flush(); err != nil {
		return Counts{}, err
	}
	return n, nil
}

// Options change how Import treats the database it writes to.
type Options struct {
	// SkipExisting leaves a record alone when the database holds one with
	// the same id, and counts it in Counts.Skipped, instead of failing.
	SkipExisting bool
}

// ExistsError reports a record whose id the database holds already.
type ExistsError struct {
	Line     int
	Kind, ID string
}

func (e *ExistsError) Error() string {
	return fmt.Sprintf("line %d: %s %q exists already in the database", e.Line, e.Kind, e.ID)
}

// Import reads an export from r and creates its records in st.
//
// It reads and checks the whole input, then checks it against the database,
// before it writes anything: a malformed line or a record that exists
// already (without opts.SkipExisting) leaves the database as it was. Signing
// keys are imported beside any the database has: all of them are published,
// and the one whose not_before is latest (and has passed) signs.
func Import(ctx context.Context, st Store, r io.Reader, opts Options) (Counts, error) {
	recs, err := read(r)
	if err != nil {
		return Counts{}, err
	}
	todo, skipped, err := plan(ctx, st, recs, opts.SkipExisting)
	if err != nil {
		return Counts{}, err
	}
	n := Counts{Skipped: skipped}
	for i, rec := range todo {
		var err error
		switch {
		case rec.client != nil:
			err = st.CreateClient(ctx, rec.client)
			n.Clients++
		case rec.user != nil:
			err = st.CreateUser(ctx, rec.user)
			n.Users++
		case rec.key != nil:
			err = st.CreateSigningKey(ctx, rec.key)
			n.SigningKeys++
		case rec.org != nil:
			err = st.CreateOrganization(ctx, rec.org)
			n.Organizations++
		case rec.member != nil:
			err = st.PutOrgMember(ctx, rec.member)
			n.OrgMembers++
		case rec.group != nil:
			if err = st.CreateClientGroup(ctx, rec.group); err != nil {
				break
			}
			for _, c := range rec.groupClients {
				if err = st.AddGroupClient(ctx, rec.group.ID, c, rec.group.CreatedAt); err != nil {
					err = fmt.Errorf("add client %q (the group was created): %w", c, err)
					break
				}
			}
			if err == nil {
				n.ClientGroups++
			}
		case rec.serviceKey != nil:
			err = st.CreateServiceKey(ctx, rec.serviceKey)
			n.ServiceKeys++
		case rec.regToken != nil:
			err = st.CreateRegistrationToken(ctx, rec.regToken)
			n.RegistrationTokens++
		case rec.passkey != nil:
			err = st.CreatePasskey(ctx, rec.passkey)
			n.Passkeys++
		case rec.totp != nil:
			err = st.CreateSealedTOTP(ctx, rec.totp)
			n.TOTP++
		case rec.clientReg != nil:
			err = st.CreateClientRegistration(ctx, rec.clientReg)
			n.ClientRegistrations++
		case rec.revoked != nil:
			err = st.RevokeAccessToken(ctx, rec.revoked.JTI, rec.revoked.ClientID, rec.revoked.ExpiresAt)
			n.RevokedAccessTokens++
		}
		if err != nil {
			// Only a write racing with ours, or a database that went away,
			// gets here: plan checked every id.
			return n, fmt.Errorf("line %d: create %s %q: %w (the %d records before it were imported)", rec.line, rec.kind(), rec.id(), err, i)
		}
	}
	return n, nil
}

// record is one checked line of the input: exactly one of its pointers is
// set (groupClients goes with group).
type record struct {
	line         int
	client       *store.Client
	user         *store.User
	key          *store.SigningKey
	org          *store.Organization
	member       *store.OrgMember
	group        *store.ClientGroup
	groupClients []string
	serviceKey   *store.ServiceKey
	regToken     *store.RegistrationToken
	passkey      *store.Passkey
	totp         *store.SealedTOTP
	clientReg    *store.ClientRegistration
	revoked      *store.RevokedAccessToken
}

func (r record) kind() string {
	switch {
	case r.client != nil:
		return kindClient
	case r.user != nil:
		return kindUser
	case r.org != nil:
		return kindOrganization
	case r.member != nil:
		return kindOrgMember
	case r.group != nil:
		return kindClientGroup
	case r.serviceKey != nil:
		return kindServiceKey
	case r.regToken != nil:
		return kindRegistrationToken
	case r.passkey != nil:
		return kindPasskey
	case r.totp != nil:
		return kindTOTP
	case r.clientReg != nil:
		return kindClientRegistration
	case r.revoked != nil:
		return kindRevokedAccessToken
	}
	return kindSigningKey
}

func (r record) id() string {
	switch {
	case r.client != nil:
		return r.client.ID
	case r.user != nil:
		return r.user.ID
	case r.org != nil:
		return r.org.ID
	case r.member != nil:
		return strconv.Quote(r.member.OrgID) + "/" + strconv.Quote(r.member.UserID)
	case r.group != nil:
		return r.group.ID
	case r.serviceKey != nil:
		return r.serviceKey.ID
	case r.regToken != nil:
		return r.regToken.ID
	case r.passkey != nil:
		return r.passkey.ID
	case r.totp != nil:
		return r.totp.UserID
	case r.clientReg != nil:
		return r.clientReg.ClientID
	case r.revoked != nil:
		return r.revoked.JTI
	}
	return r.key.ID
}

// rank orders the kinds as Import creates them: each after what it refers to.
func (r record) rank() int {
	switch {
	case r.org != nil:
		return 0
	case r.client != nil:
		return 1
	case r.user != nil:
		return 2
	case r.member != nil:
		return 3
	case r.group != nil:
		return 4
	case r.serviceKey != nil:
		return 6
	case r.regToken != nil:
		return 7
	case r.passkey != nil:
		return 8
	case r.totp != nil:
		return 9
	case r.clientReg != nil:
		return 10
	case r.revoked != nil:
		return 11
	}
	return 5
}

// read parses and checks the whole input.
func read(r io.Reader) ([]record, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), maxLine)
	var (
		h      header
		recs   []record
		got    Counts
		n      int
		seen   = map[string]int{} // kind + NUL + id -> line
		emails = map[string]int{} // user email -> line
		groups = map[string]int{} // group org + NUL + name -> line
		hashes = map[string]int{} // kind + NUL + secret hash -> line
	)
	for sc.Scan() {
		n++
		if n == 1 {
			var err error
			if h, err = parseHeader(sc.Bytes()); err != nil {
				return nil, fmt.Errorf("line 1: %w", err)
			}
			continue
		}
		if len(bytes.TrimSpace(sc.Bytes())) == 0 {
			return nil, fmt.Errorf("line %d: empty line: every line holds one record", n)
		}
		rec, err := parseRecord(sc.Bytes())
		if err != nil {
			return nil, fmt.Errorf("line %d: %w", n, err)
		}
		rec.line = n
		key := rec.kind() + "\x00" + rec.id()
		if first, ok := seen[key]; ok {
			return nil, fmt.Errorf("line %d: %s %q appears twice (first on line %d)", n, rec.kind(), rec.id(), first)
		}
		seen[key] = n
		switch {
		case rec.client != nil:
			got.Clients++
		case rec.user != nil:
			got.Users++
			if first, ok := emails[rec.user.Email]; ok {
				return nil, fmt.Errorf("line %d: user %q has the email %s of the user on line %d", n, rec.user.ID, rec.user.Email, first)
			}
			emails[rec.user.Email] = n
		case rec.key != nil:
			got.SigningKeys++
		case rec.org != nil:
			got.Organizations++
		case rec.member != nil:
			got.OrgMembers++
		case rec.serviceKey != nil:
			got.ServiceKeys++
			if first, ok := hashes[kindServiceKey+"\x00"+rec.serviceKey.SecretHash]; ok {
				return nil, fmt.Errorf("line %d: service key %q has the secret of the service key on line %d", n, rec.serviceKey.ID, first)
			}
			hashes[kindServiceKey+"\x00"+rec.serviceKey.SecretHash] = n
		case rec.regToken != nil:
			got.RegistrationTokens++
			if first, ok := hashes[kindRegistrationToken+"\x00"+rec.regToken.Hash]; ok {
				return nil, fmt.Errorf("line %d: registration token %q has the hash of the registration token on line %d", n, rec.regToken.ID, first)
			}
			hashes[kindRegistrationToken+"\x00"+rec.regToken.Hash] = n
		case rec.passkey != nil:
			got.Passkeys++
		case rec.totp != nil:
			got.TOTP++
		case rec.clientReg != nil:
			got.ClientRegistrations++
		case rec.revoked != nil:
			got.RevokedAccessTokens++
		case rec.group != nil:
			got.ClientGroups++
			key := rec.group.OrgID + "\x00" + rec.group.Name
			if first, ok := groups[key]; ok {
				return nil, fmt.Errorf("line %d: client group %q has the name %q of the group on line %d in organization %q",
					n, rec.group.ID, rec.group.Name, first, rec.group.OrgID)
			}
			groups[key] = n
		}
		recs = append(recs, rec)
	}
	if err := sc.Err(); err != nil {
		if errors.Is(err, bufio.ErrTooLong) {
			return nil, fmt.Errorf("line %d: longer than %d MiB", n+1, maxLine>>20)
		}
		return nil, fmt.Errorf("read line %d: %w", n+1, err)
	}
	if n == 0 {
		return nil, errors.New("the input is empty: a Latchkey export starts with a header line")
	}
	// The header's counts catch a file cut short by a full disk or an
	// interrupted copy, which would otherwise import in part without a word.
	if want := h.counts(); got != want {
		return nil, fmt.Errorf("the header announces %s but the file holds %s: it is incomplete or was edited", want, got)
	}
	// Created in dependency order, whatever order a hand-edited file has.
	slices.SortStableFunc(recs, func(a, b record) int { return a.rank() - b.rank() })
	return recs, nil
}

// plan checks recs against the database and returns those to create, and
// how many were skipped because their id exists.
func plan(ctx context.Context, st Store, recs []record, skipExisting bool) (todo []record, skipped int, err error) {
	ks, err := st.ListSigningKeys(ctx)
	if err != nil {
		return nil, 0, fmt.Errorf("list signing keys: %w", err)
	}
	haveKey := make(map[string]bool, len(ks))
	for _, k := range ks {
		haveKey[k.ID] = true
	}
	sks, err := st.ListServiceKeys(ctx)
	if err != nil {
		return nil, 0, fmt.Errorf("list service keys: %w", err)
	}
	haveServiceKey := make(map[string]bool, len(sks))
	for _, k := range sks {
		haveServiceKey[k.ID] = true
	}
	rts, err := st.ListRegistrationTokens(ctx)
	if err != nil {
		return nil, 0, fmt.Errorf("list registration tokens: %w", err)
	}
	haveRegToken := make(map[string]bool, len(rts))
	for _, t := range rts {
		haveRegToken[t.ID] = true
	}
	tts, err := st.ListSealedTOTP(ctx)
	if err != nil {
		return nil, 0, fmt.Errorf("list TOTP enrolments: %w", err)
	}
	haveTOTP := make(map[string]bool, len(tts))
	for _, t := range tts {
		haveTOTP[t.UserID] = true
	}
	// A client registration goes with its client: skipped with it, so an
	// existing client is never given the file's registration access token.
	skippedClients := map[string]bool{}
	refs := newReferences(recs)
	for _, rec := range recs {
		if err := refs.check(ctx, st, rec); err != nil {
			return nil, 0, fmt.Errorf("line %d: %s %q: %w", rec.line, rec.kind(), rec.id(), err)
		}
		var exists bool
		switch {
		case rec.org != nil:
			exists, err = found(st.GetOrganization(ctx, rec.org.ID))
		case rec.member != nil:
			exists, err = found(st.GetOrgMember(ctx, rec.member.OrgID, rec.member.UserID))
		case rec.group != nil:
			exists, err = found(st.GetClientGroup(ctx, rec.group.ID))
		case rec.client != nil:
			exists, err = found(st.GetClient(ctx, rec.client.ID))
		case rec.user != nil:
			exists, err = found(st.GetUser(ctx, rec.user.ID))
			if err == nil && !exists {
				// A different user with the same email would make
				// CreateUser fail; say so now, and never skip it: the two
				// are different people to the database.
				var other *store.User
				other, err = st.GetUserByEmail(ctx, rec.user.Email)
				if err == nil {
					return nil, 0, fmt.Errorf("line %d: user %q: the email %s belongs to user %q in the database", rec.line, rec.user.ID, rec.user.Email, other.ID)
				}
				if errors.Is(err, store.ErrNotFound) {
					err = nil
				}
			}
		case rec.key != nil:
			exists = haveKey[rec.key.ID]
		case rec.serviceKey != nil:
			exists = haveServiceKey[rec.serviceKey.ID]
			if !exists {
				// Another key with the same secret would make the create
				// fail halfway: say so now.
				for _, k := range sks {
					if k.SecretHash == rec.serviceKey.SecretHash {
						return nil, 0, fmt.Errorf("line %d: service key %q: its secret is service key %q's in the database", rec.line, rec.serviceKey.ID, k.ID)
					}
				}
			}
		case rec.regToken != nil:
			exists = haveRegToken[rec.regToken.ID]
			if !exists {
				var other *store.RegistrationToken
				other, err = st.GetRegistrationToken(ctx, rec.regToken.Hash)
				if err == nil {
					return nil, 0, fmt.Errorf("line %d: registration token %q: its hash is registration token %q's in the database", rec.line, rec.regToken.ID, other.ID)
				}
				if errors.Is(err, store.ErrNotFound) {
					err = nil
				}
			}
		case rec.passkey != nil:
			exists, err = found(st.GetPasskey(ctx, rec.passkey.ID))
		case rec.totp != nil:
			exists = haveTOTP[rec.totp.UserID]
			if !exists {
				if err := checkSealed(st, rec.totp); err != nil {
					return nil, 0, fmt.Errorf("line %d: totp of user %q: %w", rec.line, rec.totp.UserID, err)
				}
			}
		case rec.clientReg != nil:
			if skippedClients[rec.clientReg.ClientID] {
				skipped++
				continue
			}
			exists, err = found(st.ClientRegistrationHash(ctx, rec.clientReg.ClientID))
		case rec.revoked != nil:
			exists, err = st.AccessTokenRevoked(ctx, rec.revoked.JTI)
		}
		if err != nil {
			return nil, 0, fmt.Errorf("line %d: look up %s %q: %w", rec.line, rec.kind(), rec.id(), err)
		}
		if exists {
			if rec.client != nil {
				skippedClients[rec.client.ID] = true
			}
			if !skipExisting {
				return nil, 0, &ExistsError{Line: rec.line, Kind: rec.kind(), ID: rec.id()}
			}
			skipped++
			continue
		}
		todo = append(todo, rec)
	}
	return todo, skipped, nil
}

// checkSealed says, in an operator's words, why st cannot take t's sealed
// secret, or nil.
func checkSealed(st Store, t *store.SealedTOTP) error {
	err := st.CheckSealedTOTP(t.UserID, t.Secret)
	switch {
	case err == nil:
		return nil
	case errors.Is(err, store.ErrSealed):
		return errors.New("its secret is sealed, and this database is opened without a secrets key: " +
			"import with the secrets_keys (LATCHKEY_SECRETS_KEY) of the installation that exported it")
	case errors.Is(err, seal.ErrUnknownKey):
		return fmt.Errorf("its secret is sealed under a secrets key this installation does not have (%v): "+
			"import with the secrets_keys of the installation that exported it", err)
	}
	return fmt.Errorf("its secret does not open (damaged, or not this user's): %w", err)
}

// references knows what the input holds, so that plan can tell a record
// that refers to one missing from both the input and the database before
// anything is written.
type references struct {
	orgs, users map[string]bool
	clientOrg   map[string]string // client id -> its org_id in the input
}

func newReferences(recs []record) *references {
	r := &references{orgs: map[string]bool{}, users: map[string]bool{}, clientOrg: map[string]string{}}
	for _, rec := range recs {
		switch {
		case rec.org != nil:
			r.orgs[rec.org.ID] = true
		case rec.user != nil:
			r.users[rec.user.ID] = true
		case rec.client != nil:
			r.clientOrg[rec.client.ID] = rec.client.OrgID
		}
	}
	return r
}

// check reports what rec refers to that neither the input nor st has: an
// owning organization, a member's user, a group's clients (which must be
// owned by the group's organization).
func (r *references) check(ctx context.Context, st Store, rec record) error {
	org := func(id string) error {
		if r.orgs[id] {
			return nil
		}
		ok, err := found(st.GetOrganization(ctx, id))
		if err == nil && !ok {
			err = fmt.Errorf("organization %q is neither in the file nor in the database", id)
		}
		return err
	}
	switch {
	case rec.client != nil && rec.client.OrgID != "":
		return org(rec.client.OrgID)
	case rec.passkey != nil, rec.totp != nil:
		var id string
		if rec.passkey != nil {
			id = rec.passkey.UserID
		} else {
			id = rec.totp.UserID
		}
		if r.users[id] {
			return nil
		}
		ok, err := found(st.GetUser(ctx, id))
		if err == nil && !ok {
			err = fmt.Errorf("user %q is neither in the file nor in the database", id)
		}
		return err
	case rec.clientReg != nil:
		if _, ok := r.clientOrg[rec.clientReg.ClientID]; !ok {
			return fmt.Errorf("client %q is not in the file: a registration goes with its client", rec.clientReg.ClientID)
		}
	case rec.member != nil:
		if err := org(rec.member.OrgID); err != nil {
			return err
		}
		if r.users[rec.member.UserID] {
			return nil
		}
		ok, err := found(st.GetUser(ctx, rec.member.UserID))
		if err == nil && !ok {
			err = fmt.Errorf("user %q is neither in the file nor in the database", rec.member.UserID)
		}
		return err
	case rec.group != nil:
		if err := org(rec.group.OrgID); err != nil {
			return err
		}
		// A group of that name in the database's organization would make
		// CreateClientGroup fail halfway.
		gs, err := st.ListClientGroups(ctx, rec.group.OrgID)
		if err != nil {
			return err
		}
		for _, g := range gs {
			if g.Name == rec.group.Name && g.ID != rec.group.ID {
				return fmt.Errorf("the group %q of organization %q in the database has the name %q", g.ID, g.OrgID, g.Name)
			}
		}
		for _, id := range rec.groupClients {
			// The database's client wins: a client that exists there is
			// skipped or refused, never replaced by the file's.
			owner, inFile := r.clientOrg[id]
			c, err := st.GetClient(ctx, id)
			switch {
			case err == nil:
				owner = c.OrgID
			case !errors.Is(err, store.ErrNotFound):
				return err
			case !inFile:
				return fmt.Errorf("client %q is neither in the file nor in the database", id)
			}
			if owner != rec.group.OrgID {
				return fmt.Errorf("client %q is not owned by the group's organization %q", id, rec.group.OrgID)
			}
		}
	}
	return nil
}

// found turns a lookup's answer into whether the record exists.
func found[T any](_ T, err error) (bool, error) {
	switch {
	case err == nil:
		return true, nil
	case errors.Is(err, store.ErrNotFound):
		return false, nil
	}
	return false, err
}

// parseHeader checks the first line. The kind and version are read leniently
// first, so a newer format is reported as such and not as an unknown field.
func parseHeader(line []byte) (header, error) {
	var probe struct {
		Kind    string `json:"kind"`
		Version int    `json:"version"`
	}
	if err := json.Unmarshal(line, &probe); err != nil {
		return header{}, fmt.Errorf("not a Latchkey export: %s", describe(err))
	}
	switch {
	case slices.Contains(recordKinds, probe.Kind):
		return header{}, fmt.Errorf("not a Latchkey export: the header line (\"kind\":%q) is missing", Kind)
	case probe.Kind != Kind:
		return header{}, fmt.Errorf("not a Latchkey export: the first line has kind %q, want %q", probe.Kind, Kind)
	case probe.Version < 1 || probe.Version > Version:
		return header{}, fmt.Errorf("export format version %d: this latchkey reads versions 1 to %d", probe.Version, Version)
	}
	var h header
	if err := decodeStrict(line, &h); err != nil {
		return header{}, err
	}
	if h.ExportedAt.IsZero() {
		return header{}, errors.New("the header has no exported_at")
	}
	if h.Version < 2 && h.Organizations+h.OrgMembers+h.ClientGroups != 0 {
		return header{}, errors.New("a version 1 header counts organizations, members or client groups: those came with version 2")
	}
	if h.Version < 3 && h.ServiceKeys+h.RegistrationTokens != 0 {
		return header{}, errors.New("a version 1 or 2 header counts service keys or registration tokens: those came with version 3")
	}
	if h.Version < 4 && h.Passkeys+h.TOTP+h.ClientRegistrations+h.RevokedAccessTokens != 0 {
		return header{}, errors.New("a version 1 to 3 header counts passkeys, TOTP enrolments, client registrations or revoked access tokens: those came with version 4")
	}
	if h.Clients < 0 || h.Users < 0 || h.SigningKeys < 0 || h.Organizations < 0 || h.OrgMembers < 0 || h.ClientGroups < 0 ||
		h.ServiceKeys < 0 || h.RegistrationTokens < 0 || h.Passkeys < 0 || h.TOTP < 0 || h.ClientRegistrations < 0 ||
		h.RevokedAccessTokens < 0 {
		return header{}, errors.New("the header has a negative count")
	}
	return h, nil
}

// recordKinds are the kinds of record lines, as the file's order has them.
var recordKinds = []string{kindOrganization, kindClient, kindUser, kindOrgMember, kindClientGroup, kindSigningKey,
	kindServiceKey, kindRegistrationToken, kindPasskey, kindTOTP, kindClientRegistration, kindRevokedAccessToken}

// parseRecord decodes and checks one record line.
func parseRecord(line []byte) (record, error) {
	var probe struct {
		Kind string `json:"kind"`
	}
	if err := json.Unmarshal(line, &probe); err != nil {
		return record{}, describe(err)
	}
	switch probe.Kind {
	case kindClient:
		return decodeRecord(line, func(l *clientLine) (record, error) { c, err := l.toStore(); return record{client: c}, err })
	case kindUser:
		return decodeRecord(line, func(l *userLine) (record, error) { u, err := l.toStore(); return record{user: u}, err })
	case kindSigningKey:
		return decodeRecord(line, func(l *keyLine) (record, error) { k, err := l.toStore(); return record{key: k}, err })
	case kindOrganization:
		return decodeRecord(line, func(l *orgLine) (record, error) { o, err := l.toStore(); return record{org: o}, err })
	case kindOrgMember:
		return decodeRecord(line, func(l *memberLine) (record, error) { m, err := l.toStore(); return record{member: m}, err })
	case kindClientGroup:
		return decodeRecord(line, func(l *groupLine) (record, error) {
			g, clients, err := l.toStore()
			return record{group: g, groupClients: clients}, err
		})
	case kindServiceKey:
		return decodeRecord(line, func(l *serviceKeyLine) (record, error) { k, err := l.toStore(); return record{serviceKey: k}, err })
	case kindRegistrationToken:
		return decodeRecord(line, func(l *registrationTokenLine) (record, error) {
			t, err := l.toStore()
			return record{regToken: t}, err
		})
	case kindPasskey:
		return decodeRecord(line, func(l *passkeyLine) (record, error) { p, err := l.toStore(); return record{passkey: p}, err })
	case kindTOTP:
		return decodeRecord(line, func(l *totpLine) (record, error) { t, err := l.toStore(); return record{totp: t}, err })
	case kindClientRegistration:
		return decodeRecord(line, func(l *clientRegistrationLine) (record, error) {
			r, err := l.toStore()
			return record{clientReg: r}, err
		})
	case kindRevokedAccessToken:
		return decodeRecord(line, func(l *revokedLine) (record, error) { r, err := l.toStore(); return record{revoked: r}, err })
	case Kind:
		return record{}, errors.New("a second header: import one export at a time")
	case "":
		return record{}, errors.New(`want a JSON object with a "kind"`)
	}
	return record{}, fmt.Errorf("unknown kind %q: want %s", probe.Kind, strings.Join(recordKinds, ", "))
}

// decodeRecord decodes line strictly as a record line of type L and makes
// the record of it with build.
func decodeRecord[L any](line []byte, build func(*L) (record, error)) (record, error) {
	var l L
	if err := decodeStrict(line, &l); err != nil {
		return record{}, err
	}
	return build(&l)
}

// decodeStrict decodes one JSON object into v, refusing unknown fields and
// anything after the object.
func decodeStrict(line []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(line))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return describe(err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return errors.New("unexpected data after the JSON object")
	}
	return nil
}

// describe rewords encoding/json's errors for people, without Go type names.
func describe(err error) error {
	var (
		te *json.UnmarshalTypeError
		se *json.SyntaxError
		be base64.CorruptInputError
	)
	switch {
	case errors.As(err, &te) && te.Field != "":
		return fmt.Errorf("field %q: got a JSON %s, want %s", te.Field, te.Value, jsonType(te.Type.Kind().String()))
	case errors.As(err, &te):
		return fmt.Errorf("got a JSON %s, want an object", te.Value)
	case errors.As(err, &se), errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF):
		return fmt.Errorf("not valid JSON: %v", err)
	case errors.As(err, &be):
		return fmt.Errorf("field \"private_key\": not standard base64: %v", err)
	}
	return errors.New(strings.TrimPrefix(err.Error(), "json: ")) // e.g. unknown field "x"
}

func jsonType(goKind string) string {
	switch goKind {
	case "string":
		return "a string"
	case "slice":
		return "an array"
	case "bool":
		return "true or false"
	case "struct":
		return "an object"
	}
	return "a number"
}
