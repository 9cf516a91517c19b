// Package portable moves an installation's durable records between
// databases as JSON lines: clients (with their secret hashes), users (with
// their password hashes) and signing keys (with their private keys), for
// example from SQLite to PostgreSQL.
//
// It leaves the rest behind. Grants and refresh tokens cannot be listed
// through package store, and sessions, device authorizations and throttle
// counters are short-lived, so after a move devices and browsers sign in
// again. The schema is the backends' business; this package speaks only
// store.Store.
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
	"strings"
	"time"

	"github.com/latchkey/latchkey/internal/store"
)

// Kind and Version identify the format in the header line.
const (
	Kind    = "latchkey-export"
	Version = 1
)

// Warning is written into the header, because the file is a credential.
const Warning = "this file holds private signing keys and password hashes: keep it as secret as the database, and delete it after the import"

// maxLine bounds one line of the input, so a file without newlines cannot
// make Import hold it all in one buffer.
const maxLine = 16 << 20

// Store is what moving records needs; every store.Store is one.
type Store interface {
	store.ClientStore
	store.UserStore
	store.KeyStore
}

// Counts says how many records of each kind were moved.
type Counts struct {
	Clients, Users, SigningKeys int
	// Skipped counts the records Import left alone because the database
	// held one with the same id already (Options.SkipExisting).
	Skipped int
}

// String reads "3 clients, 10 users, 2 signing keys".
func (c Counts) String() string {
	return plural(c.Clients, "client") + ", " + plural(c.Users, "user") + ", " + plural(c.SigningKeys, "signing key")
}

func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}

// Export writes every client, user and signing key of st to w: a header
// line, then one JSON object per record.
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
	n := Counts{Clients: len(cs), Users: len(us), SigningKeys: len(ks)}

	// Every record is converted before the first byte is written, so a
	// record JSON cannot carry leaves no half-written file behind.
	lines := []any{header{
		Kind: Kind, Version: Version, ExportedAt: timestamp(time.Now()),
		Clients: n.Clients, Users: n.Users, SigningKeys: n.SigningKeys, Warning: Warning,
	}}
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
	for _, k := range ks {
		l, err := keyToLine(k)
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
		}
		if err != nil {
			// Only a write racing with ours, or a database that went away,
			// gets here: plan checked every id.
			return n, fmt.Errorf("line %d: create %s %q: %w (the %d records before it were imported)", rec.line, rec.kind(), rec.id(), err, i)
		}
	}
	return n, nil
}

// record is one checked line of the input: exactly one of its pointers is set.
type record struct {
	line   int
	client *store.Client
	user   *store.User
	key    *store.SigningKey
}

func (r record) kind() string {
	switch {
	case r.client != nil:
		return kindClient
	case r.user != nil:
		return kindUser
	}
	return kindSigningKey
}

func (r record) id() string {
	switch {
	case r.client != nil:
		return r.client.ID
	case r.user != nil:
		return r.user.ID
	}
	return r.key.ID
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
	want := Counts{Clients: h.Clients, Users: h.Users, SigningKeys: h.SigningKeys}
	if got != want {
		return nil, fmt.Errorf("the header announces %s but the file holds %s: it is incomplete or was edited", want, got)
	}
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
	for _, rec := range recs {
		var exists bool
		switch {
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
		}
		if err != nil {
			return nil, 0, fmt.Errorf("line %d: look up %s %q: %w", rec.line, rec.kind(), rec.id(), err)
		}
		if exists {
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
	case probe.Kind == kindClient || probe.Kind == kindUser || probe.Kind == kindSigningKey:
		return header{}, fmt.Errorf("not a Latchkey export: the header line (\"kind\":%q) is missing", Kind)
	case probe.Kind != Kind:
		return header{}, fmt.Errorf("not a Latchkey export: the first line has kind %q, want %q", probe.Kind, Kind)
	case probe.Version != Version:
		return header{}, fmt.Errorf("export format version %d: this latchkey reads version %d", probe.Version, Version)
	}
	var h header
	if err := decodeStrict(line, &h); err != nil {
		return header{}, err
	}
	if h.ExportedAt.IsZero() {
		return header{}, errors.New("the header has no exported_at")
	}
	if h.Clients < 0 || h.Users < 0 || h.SigningKeys < 0 {
		return header{}, errors.New("the header has a negative count")
	}
	return h, nil
}

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
		var l clientLine
		if err := decodeStrict(line, &l); err != nil {
			return record{}, err
		}
		c, err := l.toStore()
		return record{client: c}, err
	case kindUser:
		var l userLine
		if err := decodeStrict(line, &l); err != nil {
			return record{}, err
		}
		u, err := l.toStore()
		return record{user: u}, err
	case kindSigningKey:
		var l keyLine
		if err := decodeStrict(line, &l); err != nil {
			return record{}, err
		}
		k, err := l.toStore()
		return record{key: k}, err
	case Kind:
		return record{}, errors.New("a second header: import one export at a time")
	case "":
		return record{}, errors.New(`want a JSON object with a "kind"`)
	}
	return record{}, fmt.Errorf("unknown kind %q: want client, user or signing_key", probe.Kind)
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
