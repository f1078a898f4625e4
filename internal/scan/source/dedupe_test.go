package source

import (
	"context"
	"encoding/base64"
	"math/rand/v2"
	"net/url"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// fakeAnthropicKey is shaped like an Anthropic key (sk-ant-api03-, 93
// characters, AA), drawn from a fixed seed: never a live key.
func fakeAnthropicKey(seed uint64) string {
	const chars = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-"
	r := rand.New(rand.NewPCG(seed, 11))
	b := []byte("sk-ant-api03-")
	for range 93 {
		b = append(b, chars[r.IntN(len(chars))])
	}
	return string(append(b, "AA"...))
}

// TestEncodedProviderKeyOnce: a provider key found inside encoded text is
// reported once, by its provider's rule; the generic rule that matched the
// encoded text over the same span is dropped. A generic secret elsewhere
// stays.
func TestEncodedProviderKeyOnce(t *testing.T) {
	key := fakeAnthropicKey(1)
	b64 := base64.StdEncoding.EncodeToString([]byte(key))
	b64json := base64.StdEncoding.EncodeToString([]byte(`{"anthropic":"` + key + `"}`))
	other := "Qm9vdHN0cmFwU2VjcmV0OnZhbHVlOjEyMzQ1Njc4OTA"
	for _, tt := range []struct {
		name, file, content string
		want                []string // rule ids, in order
	}{
		{"base64 in .env", ".env", "ANTHROPIC_CREDENTIALS=" + b64 + "\n", []string{"anthropic-api-key"}},
		{"base64 of JSON in .env", ".env", "APP_SECRET=" + b64json + "\n", []string{"anthropic-api-key"}},
		{"base64 in YAML", "c.yaml", "llm:\n  token: " + b64 + "\n", []string{"anthropic-api-key"}},
		{"URL-encoded in .env", ".env", "LLM_SECRET=" + url.QueryEscape("k="+key) + "\n", []string{"anthropic-api-key"}},
		{"generic elsewhere stays", ".env", "ANTHROPIC_CREDENTIALS=" + b64 + "\nSESSION_SECRET=" + other + "\n", []string{"anthropic-api-key", "generic-config-secret"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			write(t, dir, tt.file, tt.content)
			got, err := Scan(context.Background(), det, []string{dir}, Options{})
			if err != nil {
				t.Fatal(err)
			}
			var ids []string
			for _, f := range got {
				ids = append(ids, f.RuleID)
			}
			if diff := cmp.Diff(tt.want, ids); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}
