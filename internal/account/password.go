// Package account owns people's credentials: password hashing with
// argon2id and the checks made when someone signs in. Sessions belong to
// package session; the pages that ask for passwords to package web.
package account

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"

	"golang.org/x/crypto/argon2"

	"github.com/latchkey/latchkey/internal/i18n"
	"github.com/latchkey/latchkey/internal/oauth"
)

// Argon2id parameters: OWASP's minimum recommendation (19 MiB, 2 passes,
// one lane). Stored with each hash, so they can be raised later.
const (
	argonMemory  = 19 * 1024
	argonTime    = 2
	argonThreads = 1
	argonKeyLen  = 32
	saltLen      = 16
)

// MinPasswordLength is the shortest password accepted for a new account.
const MinPasswordLength = 10

// MaxPasswordLength bounds the work one login can cause.
const MaxPasswordLength = 256

// HashPassword returns a PHC-formatted argon2id hash of password.
func HashPassword(password string) (string, error) {
	salt := make([]byte, saltLen)
	if _, err := rand.Read(salt); err != nil {
		return "", err
	}
	key := argon2.IDKey([]byte(password), salt, argonTime, argonMemory, argonThreads, argonKeyLen)
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version, argonMemory, argonTime, argonThreads,
		base64.RawStdEncoding.EncodeToString(salt), base64.RawStdEncoding.EncodeToString(key)), nil
}

// CheckPassword reports whether password matches hash.
func CheckPassword(hash, password string) (bool, error) {
	parts := strings.Split(hash, "$")
	if len(parts) != 6 || parts[1] != "argon2id" {
		return false, errors.New("not an argon2id hash")
	}
	var version int
	if _, err := fmt.Sscanf(parts[2], "v=%d", &version); err != nil || version != argon2.Version {
		return false, errors.New("unsupported argon2 version")
	}
	var mem, time uint32
	var threads uint8
	if _, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &mem, &time, &threads); err != nil {
		return false, errors.New("malformed argon2 parameters")
	}
	salt, err := base64.RawStdEncoding.DecodeString(parts[4])
	if err != nil {
		return false, errors.New("malformed salt")
	}
	want, err := base64.RawStdEncoding.DecodeString(parts[5])
	if err != nil {
		return false, errors.New("malformed key")
	}
	got := argon2.IDKey([]byte(password), salt, time, mem, threads, uint32(len(want)))
	return subtle.ConstantTimeCompare(got, want) == 1, nil
}

// dummyHash is checked against when the user does not exist, so an unknown
// user and a wrong password take the same time: a hash made once with
// HashPassword and the parameters above (TestDummyHashParameters holds it
// to them), written here rather than made at start-up, where its 19 MiB
// and a quarter of a second were the process's largest cost before it
// served a request, and the heap it grew stayed in the idle RSS.
const dummyHash = "$argon2id$v=19$m=19456,t=2,p=1$pUFZi3ZBSi2h8JoiSBBl+A$Bi/DdmycoWeSacj8YIccg8ICi6ueKbegWiPuULbxiGU"

// CheckDummy spends the time of one password check.
func CheckDummy(password string) { _, _ = CheckPassword(dummyHash, password) }

// ValidatePassword says what is wrong with a new password, if anything: a
// *PasswordError.
func ValidatePassword(p string) error {
	switch {
	case len(p) < MinPasswordLength:
		return &PasswordError{Key: "password.too_short", N: MinPasswordLength}
	case len(p) > MaxPasswordLength:
		return &PasswordError{Key: "password.too_long", N: MaxPasswordLength}
	case !oauth.CleanText(p):
		// The sign-in form refuses control characters, so such a password
		// could never be typed there.
		return &PasswordError{Key: "password.control"}
	case Common(p):
		return &PasswordError{Key: "password.common"}
	}
	return nil
}

// PasswordError is what is wrong with a new password: the message Key of
// the catalogs (package i18n) with the number N. Error is its English
// words, for the admin API and the command line; pages say it in the
// person's language (In).
type PasswordError struct {
	Key string
	N   int
}

func (e *PasswordError) Error() string { return e.In(i18n.English()) }

// In is the error's words in loc's language, as a clause without a
// capital or a full stop.
func (e *PasswordError) In(loc *i18n.Locale) string { return loc.T(e.Key, "n", e.N) }
