package secret

import (
	"crypto"
	"crypto/ed25519"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"log/slog"
)

// Signer is an Ed25519 private key loaded from a Secret (PKCS#8 PEM). It
// signs (it is a crypto.Signer) but never prints its key.
type Signer struct{ k ed25519.PrivateKey }

// Ed25519Signer parses the secret as a PKCS#8 PEM Ed25519 private key.
func (s Secret) Ed25519Signer() (*Signer, error) {
	block, _ := pem.Decode([]byte(s.v))
	if block == nil {
		return nil, errors.New("not a PEM block (want a PKCS#8 \"PRIVATE KEY\")")
	}
	key, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("not a PKCS#8 private key: %w", err)
	}
	k, ok := key.(ed25519.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("a %T key, want Ed25519", key)
	}
	return &Signer{k: k}, nil
}

// NewSigner wraps a key (tests and key generation).
func NewSigner(k ed25519.PrivateKey) *Signer { return &Signer{k: k} }

// Public implements crypto.Signer.
func (s *Signer) Public() crypto.PublicKey { return s.k.Public() }

// Sign implements crypto.Signer (Ed25519 signs the message itself).
func (s *Signer) Sign(r io.Reader, msg []byte, opts crypto.SignerOpts) ([]byte, error) {
	return s.k.Sign(r, msg, opts)
}

// KeyID is a short, stable id of the public key (for a token's "kid").
func (s *Signer) KeyID() string { return KeyID(s.k.Public().(ed25519.PublicKey)) }

// KeyID names a public key: the first 16 hex digits of its SHA-256.
func KeyID(pub ed25519.PublicKey) string {
	sum := sha256.Sum256(pub)
	return hex.EncodeToString(sum[:8])
}

// String implements fmt.Stringer.
func (*Signer) String() string { return Redacted }

// Format implements fmt.Formatter for every verb.
func (*Signer) Format(f fmt.State, _ rune) { _, _ = f.Write([]byte(Redacted)) }

// LogValue implements slog.LogValuer.
func (*Signer) LogValue() slog.Value { return slog.StringValue(Redacted) }

// MarshalJSON implements json.Marshaler.
func (*Signer) MarshalJSON() ([]byte, error) { return []byte(`"` + Redacted + `"`), nil }

// ParseEd25519Public parses a PEM public key (PKIX "PUBLIC KEY"); public
// keys are not secret, but they come through references like the rest.
func (s Secret) ParseEd25519Public() (ed25519.PublicKey, error) {
	block, _ := pem.Decode([]byte(s.v))
	if block == nil {
		return nil, errors.New("not a PEM block (want a \"PUBLIC KEY\")")
	}
	key, err := x509.ParsePKIXPublicKey(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("not a PKIX public key: %w", err)
	}
	k, ok := key.(ed25519.PublicKey)
	if !ok {
		return nil, fmt.Errorf("a %T key, want Ed25519", key)
	}
	return k, nil
}
