// Package vkey defines the format of keyward's own virtual keys:
//
//	kw_live_<43 base62 characters: 32 random bytes><6 base62 characters: CRC-32 checksum>
//	kw_test_…
//
// The checksum (CRC-32/IEEE of everything before it) lets a scanner tell a
// real keyward key from a random string without any lookup, as GitHub's
// token format does.
package vkey

import (
	"crypto/rand"
	"errors"
	"hash/crc32"
	"math/big"
	"strings"
)

// Prefixes of live and test keys.
const (
	LivePrefix = "kw_live_"
	TestPrefix = "kw_test_"
)

const (
	alphabet    = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
	bodyLen     = 43 // base62 digits of 32 random bytes
	checksumLen = 6  // base62 digits of a CRC-32
	// Len is the length of every key.
	Len = len(LivePrefix) + bodyLen + checksumLen
)

// New returns a fresh key with the live or test prefix.
func New(live bool) (string, error) {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", err
	}
	prefix := TestPrefix
	if live {
		prefix = LivePrefix
	}
	body := encode(new(big.Int).SetBytes(b[:]), bodyLen)
	return prefix + body + checksum(prefix+body), nil
}

// Valid reports whether s is a well-formed key with a correct checksum.
func Valid(s string) bool {
	if len(s) != Len || !(strings.HasPrefix(s, LivePrefix) || strings.HasPrefix(s, TestPrefix)) {
		return false
	}
	for i := len(LivePrefix); i < len(s); i++ {
		if strings.IndexByte(alphabet, s[i]) < 0 {
			return false
		}
	}
	cut := len(s) - checksumLen
	return checksum(s[:cut]) == s[cut:]
}

// ErrMalformed is returned for a string that is not a keyward key.
var ErrMalformed = errors.New("not a keyward key")

// IsLive reports whether a valid key is a live one.
func IsLive(s string) bool { return Valid(s) && strings.HasPrefix(s, LivePrefix) }

func checksum(s string) string {
	return encode(new(big.Int).SetUint64(uint64(crc32.ChecksumIEEE([]byte(s)))), checksumLen)
}

// encode writes n in base62, left-padded with zeros to width digits.
func encode(n *big.Int, width int) string {
	out := make([]byte, width)
	base := big.NewInt(62)
	mod := new(big.Int)
	for i := width - 1; i >= 0; i-- {
		n.DivMod(n, base, mod)
		out[i] = alphabet[mod.Int64()]
	}
	return string(out)
}
