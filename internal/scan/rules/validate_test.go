package rules

import (
	"encoding/base64"
	"hash/crc32"
	"math/big"
	"strings"
	"testing"

	"github.com/keyward/keyward/internal/vkey"
)

// TestGitHubChecksum checks githubChecksumOK against a checksum computed
// independently here (math/big base conversion), so the validator and the
// sample builder, which share base62Encode, cannot agree on a wrong answer.
func TestGitHubChecksum(t *testing.T) {
	body := fake("checksum-test", base62, 30)
	n := new(big.Int).SetUint64(uint64(crc32.ChecksumIEEE([]byte(body))))
	sum := n.Text(62) // big uses 0-9a-zA-Z; GitHub uses 0-9A-Za-z
	sum = strings.Map(func(r rune) rune {
		switch {
		case 'a' <= r && r <= 'z':
			return r - 'a' + 'A'
		case 'A' <= r && r <= 'Z':
			return r - 'A' + 'a'
		}
		return r
	}, sum)
	sum = strings.Repeat("0", 6-len(sum)) + sum
	for _, tt := range []struct {
		tok  string
		want bool
	}{
		{"ghp_" + body + sum, true},
		{"ghs_" + body + sum, true},
		{"ghp_" + body + flipLast(sum), false},
		{"ghp_" + flipLast(body) + sum, false},
		{"ghp_" + sum, false},
		{"ghp", false},
	} {
		if got := githubChecksumOK(tt.tok); got != tt.want {
			t.Errorf("githubChecksumOK(%q) = %v, want %v", tt.tok, got, tt.want)
		}
	}
}

// TestKeywardSamples checks the sample builder against vkey itself.
func TestKeywardSamples(t *testing.T) {
	for _, k := range []string{keywardKey("a", vkey.LivePrefix), keywardKey("b", vkey.TestPrefix)} {
		if !vkey.Valid(k) {
			t.Errorf("sample %q is not a valid keyward key", k)
		}
	}
	if k, err := vkey.New(true); err != nil || len(ruleByID("keyward-live-key").Find("KEYWARD_API_KEY="+k)) != 1 {
		t.Errorf("a key from vkey.New is not found (err %v)", err)
	}
}

func TestServiceRoleJWT(t *testing.T) {
	enc := base64.RawURLEncoding.EncodeToString
	head := enc([]byte(`{"alg":"HS256","typ":"JWT"}`))
	for _, tt := range []struct {
		jwt  string
		want bool
	}{
		{head + "." + enc([]byte(`{"iss":"supabase","role":"service_role"}`)) + ".sig", true},
		{head + "." + enc([]byte(`{"iss":"supabase","role":"anon"}`)) + ".sig", false},
		{head + "." + enc([]byte(`{"role":"authenticated","app_metadata":{"role":"service_role"}}`)) + ".sig", false},
		{head + "." + enc([]byte(`not json`)) + ".sig", false},
		{head + ".%%%.sig", false},
		{head + ".sig", false},
	} {
		if got := isServiceRoleJWT(tt.jwt); got != tt.want {
			t.Errorf("isServiceRoleJWT(%q) = %v, want %v", tt.jwt, got, tt.want)
		}
	}
}

func TestPlausibleSecret(t *testing.T) {
	for s, want := range map[string]bool{
		"q7Kd9xLm2Vb8Nc4Rt6Yw":                 true,
		"9c1f0b7e2d4a6c8e0f1a3b5d7c9e1f2a":     true, // hex
		"qRhmxn_VNDY!gPlo%SRO":                 true, // password without digits
		"process.env.OPENAI_API_KEY":           false,
		"settings.providers.openai.api_key":    false,
		"${DB_PASSWORD}":                       false,
		"3f2b8c1e-9a4d-4f6b-8e2a-7c5d9b1e0f3a": false,
		"sha512-AbCdEf0123456789AbCdEf012345":  false,
		"sk_test_fake-secret-key-for-tests":    false,
		"correct-horse-battery-staple":         false,
		"someConfigurationValueName":           false,
		"0123456789012345678901234567":         false,
	} {
		if got := plausibleSecret(s); got != want {
			t.Errorf("plausibleSecret(%q) = %v, want %v", s, got, want)
		}
	}
}

func TestPEMBody(t *testing.T) {
	der := fakeBytes("pem-body-test", 121)
	ok := samplePEM("EC PRIVATE KEY", der, "\n")
	for s, want := range map[string]bool{
		ok:                                       true,
		samplePEM("EC PRIVATE KEY", der, `\n`):   true,
		samplePEM("PRIVATE KEY", der[:47], "\n"): false, // too short for any key
		"-----BEGIN PRIVATE KEY-----\n...\n-----END PRIVATE KEY-----": false,
		strings.Replace(ok, "\n", "\n!", 3):                           false,
	} {
		if got := pemBodyOK(s); got != want {
			t.Errorf("pemBodyOK(%q) = %v, want %v", s, got, want)
		}
	}
}
