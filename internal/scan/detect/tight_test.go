package detect

import (
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestTightWindows holds the tight windows to the oracle where their
// bounds are closest: the longest names ahead of a keyword, names with
// case-folded letters (Kelvin sign, long s), long white space and fallback
// expressions between name and value, the longest values, values cut by
// the end of the text, and keywords far from a long-s name.
func TestTightWindows(t *testing.T) {
	// Values drawn from a fixed seed: secret-shaped, never live.
	r := rand.New(rand.NewPCG(1, 2))
	randomOf := func(alphabet string, n int) string {
		b := make([]byte, n)
		for i := range b {
			b[i] = alphabet[r.IntN(len(alphabet))]
		}
		return string(b)
	}
	const alnum = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
	randomish := func(n int) string { return randomOf(alnum, n) }
	v := randomish(32)
	aws := randomOf(alnum+"/+", 38) + "/+"
	long := randomish(200)
	filler := strings.Repeat("e.key;", 200)
	for name, in := range map[string]string{
		"longest name":        `ENCRYPTION_KEY_DEVELOPMENT = "` + v + `"`,
		"kelvin name":         `webhoo` + kelvin + `_key: "` + v + `"`,
		"long s name":         filler + `const ` + longS + `ecret = "` + v + `";`,
		"long s no key":       `const ` + longS + `ecret = "` + v + `";`,
		"long s password":     filler + `pa` + longS + longS + `word: '` + v + `'`,
		"white space":         `apiKey` + strings.Repeat(" ", 3000) + `=` + strings.Repeat("\n", 500) + `"` + v + `"`,
		"fallback":            `token: process.env.` + strings.Repeat("A", 2000) + ` ?? "` + v + `"`,
		"longest value":       `secret: "` + long + `"`,
		"too long value":      `secret: "` + long + `x"`,
		"multibyte value":     `secret: "` + randomish(150) + strings.Repeat("é", 50) + `"`,
		"escaped quotes":      `"{\"access_token\":\"` + v + `\"}"`,
		"cut value":           `secret: "` + v,
		"aws":                 `aws_secret_access_key = ` + aws,
		"aws long prefix":     `AWS_` + strings.Repeat("X", 20) + `SECRET="` + aws + `"`,
		"aws long s":          "secret;" + filler + `aw` + longS + `_` + longS + `ecret = ` + aws + `é`,
		"aws end of text":     `SecretAccessKey: ` + aws,
		"aws rune after":      `secret_access_key: ` + aws + "\u2028",
		"many keywords":       strings.Repeat(`apiKey:"`+v+`",token:e.token,`, 50),
		"dense minified":      strings.Repeat(`{key:e.key,secret:void 0,token:"`, 20) + v + `"}`,
		"key inside value":    `password = "` + v[:10] + `pwd` + v[10:] + `"`,
		"zone bytes in value": `secret: "=:?|` + v + `"`,
		"fallback operator":   `apiKey || window.KEY ?? "` + v + `"`,
		"arrow":               `"secret" => '` + v + `',`,
		"walrus":              `api_secret := "` + v + `"`,
		"bracket quote":       `env["API_TOKEN"] = "` + v + `"`,
		"chained pairs":       `keyPrefix:"ab""cd":"x",secret:"` + v + `"`,
		"no gap":              `token:"` + v + `",secret:"` + randomish(24) + `",password:"` + randomish(30) + `1"`,
	} {
		data := []byte(in)
		if want := oracle(data); len(want) == 0 != (strings.HasPrefix(name, "too long") || strings.HasPrefix(name, "cut") || name == "long s no key") {
			t.Errorf("%s: the oracle finds %d secrets: the case no longer tests what it says", name, len(want))
		}
		if diff := cmp.Diff(oracle(data), scanned(data)); diff != "" {
			t.Errorf("%s: detector differs from Find (-want +got):\n%s", name, diff)
		}
	}
}
