package live

import (
	"crypto/ed25519"
	"crypto/x509"
	"encoding/pem"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/keyward/keyward/internal/redact"
	"github.com/keyward/keyward/internal/secret"
)

// TestScrubCoversEveryLoadedSecret: the response scrubber and the log
// scrubber remove every secret the configuration loads — JWT HMAC secrets
// and the token signing key too — and leave public verification keys be.
func TestScrubCoversEveryLoadedSecret(t *testing.T) {
	dir := t.TempDir()
	pub, priv, _ := ed25519.GenerateKey(nil)
	der, _ := x509.MarshalPKCS8PrivateKey(priv)
	signing := string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}))
	pder, _ := x509.MarshalPKIXPublicKey(pub)
	verify := string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pder}))
	for name, v := range map[string]string{"signing.pem": signing, "verify.pem": verify} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(v), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	env := map[string]string{"OPENAI_KEY": "test-openai-key-aaaa", "CLIENT_KEY": "test-client-key-bbbb",
		"PEPPER": "test-pepper-value-cccc", "ADMIN": "test-admin-key-dddd", "JWT_SECRET": "test-jwt-hmac-secret-eeee"}
	cfg := parseConfig(t, minimalConfig+`clients: {keys: [env:CLIENT_KEY]}
plans: [{name: all}]
auth:
  pepper: env:PEPPER
  admin_keys: [env:ADMIN]
  jwt:
    - {issuer: https://app.test, audience: keyward, secret: env:JWT_SECRET, algorithms: [HS256], default_plan: all}
  browser_tokens: {signing_key: file:signing.pem, verification_keys: [file:verify.pem]}
`)
	logs := redact.NewScrubber()
	g, err := New(cfg, Options{ConfigPath: filepath.Join(dir, "keyward.yaml"), Getenv: envOf(env), Scrubber: logs})
	if err != nil {
		t.Fatal(err)
	}
	snap := g.Current()
	signingBody := strings.Split(signing, "\n")[1]
	for _, v := range append([]string{signingBody}, env["OPENAI_KEY"], env["CLIENT_KEY"], env["PEPPER"], env["ADMIN"], env["JWT_SECRET"]) {
		if got := snap.Scrub.String("x " + v + " y"); got != "x "+secret.Redacted+" y" {
			t.Errorf("response scrubber leaves %q: %q", v, got)
		}
		if got := logs.String("x " + v + " y"); got != "x "+redact.Mask+" y" {
			t.Errorf("log scrubber leaves %q: %q", v, got)
		}
	}
	verifyBody := strings.Split(verify, "\n")[1]
	if got := snap.Scrub.String(verifyBody); got != verifyBody {
		t.Errorf("a public key is scrubbed: %q", got)
	}
}
