package secret

import (
	"crypto"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"strings"
	"testing"
)

func pemOf(t *testing.T, typ string, der []byte) string {
	return string(pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}))
}

func TestEd25519Signer(t *testing.T) {
	pub, priv, _ := ed25519.GenerateKey(rand.Reader)
	der, _ := x509.MarshalPKCS8PrivateKey(priv)
	s, err := New(pemOf(t, "PRIVATE KEY", der)).Ed25519Signer()
	if err != nil {
		t.Fatal(err)
	}
	sig, _ := s.Sign(nil, []byte("msg"), crypto.Hash(0))
	if !ed25519.Verify(pub, []byte("msg"), sig) || s.KeyID() != KeyID(pub) || len(s.KeyID()) != 16 {
		t.Fatal("signature or key id wrong")
	}
	j, _ := json.Marshal(s)
	for _, out := range []string{fmt.Sprint(s), fmt.Sprintf("%#v %+v %x", s, s, s), string(j)} {
		if strings.Contains(out, fmt.Sprintf("%x", priv[:8])) || !strings.Contains(out, Redacted) {
			t.Errorf("signer printed: %s", out)
		}
	}
	pder, _ := x509.MarshalPKIXPublicKey(pub)
	got, err := New(pemOf(t, "PUBLIC KEY", pder)).ParseEd25519Public()
	if err != nil || !got.Equal(pub) {
		t.Fatalf("public: %v", err)
	}
	for name, v := range map[string]string{"not pem": "hello", "rsa-ish": pemOf(t, "PRIVATE KEY", []byte{1, 2, 3})} {
		if _, err := New(v).Ed25519Signer(); err == nil {
			t.Errorf("%s: want error", name)
		}
		if _, err := New(v).ParseEd25519Public(); err == nil {
			t.Errorf("%s: want public error", name)
		}
	}
}
