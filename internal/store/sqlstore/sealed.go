package sqlstore

import (
	"context"
	"fmt"

	"github.com/latchkey/latchkey/internal/seal"
	"github.com/latchkey/latchkey/internal/store"
)

// Secrets sealed at rest (store.SecretStore, docs/security.md SS-05). The
// columns below hold what Latchkey must read back and so cannot hash; with
// a Sealer each is sealed as it is written and opened as it is read, with
// the row's identity as the associated data. Nothing else changes: the
// statements bind and scan the sealed text in place of the plaintext.

// sealedColumn is a column that holds a sealed value, and how its rows are
// named for the associated data.
type sealedColumn struct {
	table, key, col string
	// text: a TEXT column, bound and compared as a string; else a BLOB or
	// BYTEA, as bytes.
	text bool
}

// ad names one row's value: "table/key" for a table with one sealed column,
// "table/key/column" for the outbox, which has two.
func (c sealedColumn) ad(key string) string {
	if c.table == "outbox" {
		return c.table + "/" + key + "/" + c.col
	}
	return c.table + "/" + key
}

var (
	keyColumn    = sealedColumn{table: "signing_keys", key: "id", col: "private_key"}
	secretColumn = sealedColumn{table: "server_secrets", key: "name", col: "value"}
	bodyColumn   = sealedColumn{table: "outbox", key: "id", col: "body", text: true}
	linkColumn   = sealedColumn{table: "outbox", key: "id", col: "link", text: true}
	totpColumn   = sealedColumn{table: "totp", key: "user_id", col: "secret"}
)

// sealedColumns is every column SealSecrets goes through.
var sealedColumns = []sealedColumn{keyColumn, secretColumn, bodyColumn, linkColumn, totpColumn}

// sealerBox lets an interface live in an atomic.Pointer.
type sealerBox struct{ s store.Sealer }

// UseSealer sets the Sealer of what is written and read from now on.
func (s *Store) UseSealer(sl store.Sealer) {
	if sl == nil {
		s.sealer.Store(nil)
		return
	}
	s.sealer.Store(&sealerBox{sl})
}

// seal returns what to store for plain in column c of row key.
func (s *Store) seal(c sealedColumn, key string, plain []byte) ([]byte, error) {
	b := s.sealer.Load()
	if b == nil {
		return plain, nil
	}
	v, err := b.s.Seal(plain, c.ad(key))
	if err != nil {
		return nil, fmt.Errorf("seal %s: %w", c.ad(key), err)
	}
	return v, nil
}

// sealText is seal for a TEXT column.
func (s *Store) sealText(c sealedColumn, key, plain string) (string, error) {
	v, err := s.seal(c, key, []byte(plain))
	return string(v), err
}

// open returns what stored, read from column c of row key, holds.
func (s *Store) open(c sealedColumn, key string, stored []byte) ([]byte, error) {
	b := s.sealer.Load()
	if b == nil {
		if seal.Sealed(stored) {
			return nil, fmt.Errorf("%s: %w", c.ad(key), store.ErrSealed)
		}
		return stored, nil
	}
	v, err := b.s.Open(stored, c.ad(key))
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", c.ad(key), err)
	}
	return v, nil
}

// openText is open for a TEXT column.
func (s *Store) openText(c sealedColumn, key, stored string) (string, error) {
	v, err := s.open(c, key, []byte(stored))
	return string(v), err
}

// sealPage is how many rows SealSecrets reads at a time.
const sealPage = 200

// SealSecrets seals (all: and re-seals) every sealed column's values,
// keyset page by page, each value by a compare-and-swap of its own: a
// value another writer changed meanwhile (a mail sent and erased, a key
// retired) is theirs, and the update changes nothing.
func (s *Store) SealSecrets(ctx context.Context, all bool) (store.SealReport, error) {
	var rep store.SealReport
	b := s.sealer.Load()
	if b == nil {
		return rep, fmt.Errorf("seal secrets: %w", store.ErrSealed)
	}
	todo := func(v []byte) bool {
		if all {
			return !b.s.Current(v)
		}
		return !seal.Sealed(v)
	}
	for _, c := range sealedColumns {
		err := s.eachValue(ctx, c, func(key string, v []byte) error {
			if !todo(v) {
				return nil
			}
			plain, err := b.s.Open(v, c.ad(key))
			if err != nil {
				return fmt.Errorf("%s: %w", c.ad(key), err)
			}
			next, err := b.s.Seal(plain, c.ad(key))
			if err != nil {
				return err
			}
			n, err := s.b.Writer().Exec(ctx, `UPDATE `+c.table+` SET `+c.col+` = $1 WHERE `+c.key+` = $2 AND `+c.col+` = $3`,
				c.bind(next), key, c.bind(v))
			if err != nil {
				return fmt.Errorf("%s: %w", c.ad(key), err)
			}
			rep.Sealed += int(n)
			return nil
		})
		if err != nil {
			return rep, fmt.Errorf("seal secrets: %w", err)
		}
	}
	for _, c := range sealedColumns {
		err := s.eachValue(ctx, c, func(_ string, v []byte) error {
			if todo(v) {
				rep.Left++
			}
			return nil
		})
		if err != nil {
			return rep, fmt.Errorf("seal secrets: %w", err)
		}
	}
	return rep, nil
}

// bind is how a value of c is passed to a statement.
func (c sealedColumn) bind(v []byte) any {
	if c.text {
		return string(v)
	}
	return v
}

// eachValue calls fn with every non-empty value of c, by key order.
func (s *Store) eachValue(ctx context.Context, c sealedColumn, fn func(key string, v []byte) error) error {
	type kv struct {
		key string
		v   []byte
	}
	after := ""
	for {
		page, err := queryAll(ctx, s.b.Reader(), func(r Row) (kv, error) {
			var p kv
			err := r.Scan(&p.key, &p.v)
			return p, err
		}, `SELECT `+c.key+`, `+c.col+` FROM `+c.table+` WHERE `+c.key+` > $1 AND length(`+c.col+`) > 0
			ORDER BY `+c.key+` LIMIT `+fmt.Sprint(sealPage), after)
		if err != nil {
			return fmt.Errorf("%s: %w", c.table, err)
		}
		for _, p := range page {
			if err := fn(p.key, p.v); err != nil {
				return err
			}
		}
		if len(page) < sealPage {
			return nil
		}
		after = page[len(page)-1].key
	}
}
