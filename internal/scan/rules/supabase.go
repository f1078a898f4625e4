package rules

import (
	"encoding/base64"
	"encoding/json"
	"strings"
)

// supabaseRules returns Supabase's rule.
func supabaseRules() []*Rule {
	var rs []*Rule
	ref := fake("supabase-ref", lowerAZ, 20)
	service := sampleJWT("supabase-service", `{"iss":"supabase","ref":"`+ref+`","role":"service_role","iat":1718000000,"exp":2033576000}`)
	serviceOld := sampleJWT("supabase-service-old", `{"role":"service_role","iat":1625000000,"exp":1940576000}`)
	anon := sampleJWT("supabase-anon", `{"iss":"supabase","ref":"`+ref+`","role":"anon","iat":1718000000,"exp":2033576000}`)
	user := sampleJWT("supabase-user", `{"aud":"authenticated","sub":"3f2b8c1e-9a4d-4f6b-8e2a-7c5d9b1e0f3a","role":"authenticated","iss":"https://`+ref+`.supabase.co/auth/v1"}`)

	// Supabase service_role keys: HS256 JWTs whose payload has
	// "role":"service_role" (and, since 2022, "iss":"supabase" and the
	// project "ref"). They bypass row-level security, so they must never
	// reach a browser; the anon key has the same shape and is public by
	// design. The regex finds any JWT; Validate decodes the payload and
	// keeps only service_role ones, so the anon key and user session tokens
	// are not reported. Keywords: the words that sit next to such keys, and
	// the base64 of the two claim orders Supabase issues ({"iss":"supabase",
	// and {"role":"service_role") so a bare key is found too.
	// Verified: google/osv-scalibr veles/secrets/supabase/detector.go
	// (iss=supabase, role=service_role), https://supabase.com/docs/guides/api/api-keys.
	rs = append(rs, &Rule{
		ID:          "supabase-service-role-key",
		Provider:    "Supabase",
		Description: "Supabase service_role key (JWT that bypasses row-level security)",
		Keywords:    []string{"supabase", "service_role", "eyjpc3mioijzdxbhymfzzsi", "eyjyb2xlijoic2vydmljzv9yb2xl"},
		Regex: token(`eyJ[A-Za-z0-9_-]{10,500}\.eyJ[A-Za-z0-9_-]{10,1000}\.[A-Za-z0-9_-]{20,500}`,
			afterDash),
		Validate: isServiceRoleJWT,
		Severity: Critical,
		TruePositives: []string{
			"SUPABASE_SERVICE_ROLE_KEY=" + service,
			`const supabase = createClient("https://` + ref + `.supabase.co", "` + service + `");`,
			`{"supabaseServiceRoleKey": "` + service + `"}`,
			"supabase:\n  service_role_key: " + serviceOld,
			"apikey: " + service, // bare: found through the payload keyword
			`const admin = createClient(url, process.env.SUPABASE_SERVICE_ROLE_KEY ?? "` + serviceOld + `")`,
		},
		FalsePositives: []string{
			"NEXT_PUBLIC_SUPABASE_ANON_KEY=" + anon,
			`const supabase = createClient("https://` + ref + `.supabase.co", "` + anon + `");`,
			"Authorization: Bearer " + user, // a user's session token, not a project key
			`SUPABASE_SERVICE_ROLE_KEY=eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9...`,
			`SUPABASE_SERVICE_ROLE_KEY=<service-role-key>`,
			"SUPABASE_SERVICE_ROLE_KEY=eyJ" + fake("supabase-fp-garbage", base64u, 40) + ".eyJ" + fake("supabase-fp-garbage-2", base64u, 60) + "." + fake("supabase-fp-garbage-3", base64u, 43),
		},
	})
	return rs
}

// isServiceRoleJWT reports whether a JWT's payload claims the service_role
// role.
func isServiceRoleJWT(jwt string) bool {
	parts := strings.Split(jwt, ".")
	if len(parts) != 3 {
		return false
	}
	payload, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(parts[1], "="))
	if err != nil {
		return false
	}
	var claims struct {
		Role string `json:"role"`
	}
	return json.Unmarshal(payload, &claims) == nil && claims.Role == "service_role"
}
