package rules

import (
	"encoding/base64"
	"hash/crc32"
	"hash/fnv"
	"math/rand/v2"
	"strings"
)

// Sample keys for the rules' true- and false-positive lists. They are built
// at init from a fixed seed per label, so they have the real shape and the
// entropy of a real key, stay the same on every run, and no key-shaped
// literal sits in the source for other scanners to trip over. None is, or
// was ever, a live credential.

// Alphabets of sample keys.
const (
	digits   = "0123456789"
	upperAZ  = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
	lowerAZ  = "abcdefghijklmnopqrstuvwxyz"
	base62   = digits + upperAZ + lowerAZ // GitHub's and keyward's checksum alphabet order
	letters  = upperAZ + lowerAZ
	lowerNum = lowerAZ + digits
	hexLower = "0123456789abcdef"
	base64u  = upperAZ + lowerAZ + digits + "-_"
	base32   = upperAZ + "234567"
)

// sampleRand returns a generator seeded from label, so that every sample
// is the same on every run.
func sampleRand(label string) *rand.Rand {
	h := fnv.New64a()
	h.Write([]byte(label))
	return rand.New(rand.NewPCG(h.Sum64(), 0x6b6579776172)) // "keywar"
}

// fake returns n characters of alphabet, drawn deterministically from label.
func fake(label, alphabet string, n int) string {
	r := sampleRand(label)
	b := make([]byte, n)
	for i := range b {
		b[i] = alphabet[r.IntN(len(alphabet))]
	}
	return string(b)
}

// fakeBytes returns n bytes drawn deterministically from label.
func fakeBytes(label string, n int) []byte {
	r := sampleRand(label)
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

// contexts places key in the places keys leak from in web projects: .env
// and shell lines, SDK construction, JSON, YAML, minified JS, an HTML
// attribute, an Authorization header, a URL-encoded body and a JSON-escaped
// string. env is the variable name the provider's docs use.
func contexts(env, key string) []string {
	return []string{
		env + "=" + key,
		`export ` + env + `="` + key + `"`,
		`const client = new Client({ apiKey: "` + key + `" });`,
		`{"` + strings.ToLower(env) + `": "` + key + `", "timeout": 30}`,
		"llm:\n  api_key: " + key + "\n  retries: 3\n",
		`fetch(u,{method:"POST",headers:{Authorization:"Bearer ` + key + `"}}).then(r=>r.json()),`,
		`<div id="app" data-api-key="` + key + `"></div>`,
		"Authorization: Bearer " + key,
		`body=%7B%22apiKey%22%3A%22` + key + `%22%7D`,
		`"{\"apiKey\":\"` + key + `\",\"stream\":true}"`,
	}
}

// githubToken returns a GitHub token with a valid CRC-32 checksum: prefix,
// n-6 random base62 characters, then the checksum in 6 base62 digits.
func githubToken(label, prefix string, n int) string {
	body := fake(label, base62, n-6)
	return prefix + body + base62Encode(uint64(crc32.ChecksumIEEE([]byte(body))), 6)
}

// keywardKey returns a well-formed keyward key (see internal/vkey): 43
// base62 characters, then the CRC-32 of prefix and body in 6 base62 digits.
func keywardKey(label, prefix string) string {
	body := prefix + fake(label, base62, 43)
	return body + base62Encode(uint64(crc32.ChecksumIEEE([]byte(body))), 6)
}

// flipLast returns s with its last character changed, which breaks any
// checksum over s.
func flipLast(s string) string {
	c := byte('a')
	if s[len(s)-1] == c {
		c = 'b'
	}
	return s[:len(s)-1] + string(c)
}

// sampleJWT returns an HS256 JWT with the given claims and a random signature.
func sampleJWT(label, claims string) string {
	enc := base64.RawURLEncoding
	return enc.EncodeToString([]byte(`{"alg":"HS256","typ":"JWT"}`)) + "." +
		enc.EncodeToString([]byte(claims)) + "." + fake(label, base64u, 43)
}

// samplePEM returns a PEM block of the given type whose body is der, wrapped
// at 64 columns; nl is the line break ("\n", or `\n` for a JSON string).
func samplePEM(typ string, der []byte, nl string) string {
	b64 := base64.StdEncoding.EncodeToString(der)
	var sb strings.Builder
	sb.WriteString("-----BEGIN " + typ + "-----" + nl)
	for len(b64) > 64 {
		sb.WriteString(b64[:64] + nl)
		b64 = b64[64:]
	}
	sb.WriteString(b64 + nl + "-----END " + typ + "-----")
	return sb.String()
}

// opensshDER returns the binary body of an unencrypted OpenSSH private key
// ("openssh-key-v1"): its empty cipher/KDF fields and length prefixes encode
// to the runs of "A" that real keys have.
func opensshDER(label string) []byte {
	var b []byte
	str := func(s []byte) {
		n := len(s)
		b = append(b, byte(n>>24), byte(n>>16), byte(n>>8), byte(n))
		b = append(b, s...)
	}
	b = append(b, "openssh-key-v1\x00"...)
	str([]byte("none"))
	str([]byte("none"))
	str(nil)
	b = append(b, 0, 0, 0, 1)
	pub := append([]byte("\x00\x00\x00\x0bssh-ed25519\x00\x00\x00\x20"), fakeBytes(label+"pub", 32)...)
	str(pub)
	priv := append(fakeBytes(label+"chk", 8), pub...)
	priv = append(priv, []byte("\x00\x00\x00\x40")...)
	priv = append(priv, fakeBytes(label+"priv", 64)...)
	priv = append(priv, []byte("\x00\x00\x00\x00\x01\x02\x03")...)
	str(priv)
	return b
}
