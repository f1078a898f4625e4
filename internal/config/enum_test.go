package config

import (
	"reflect"
	"slices"
	"sort"
	"strings"
	"testing"
)

// TestEnumeratedFieldsNameTheValue: every enumerated field, given a value
// it does not allow, names the value, the values it allows and the closest
// one (issue #15).
func TestEnumeratedFieldsNameTheValue(t *testing.T) {
	const base = "providers: [{name: m, kind: mock}]\nmodels: [{name: fast, targets: [{provider: m, model: x}]}]\n"
	tests := []struct {
		field string // the Enumerations key
		yaml  string // replaces or adds to base
		want  string
	}{
		{"providers[].kind", "providers: [{name: m, kind: opnai, keys: [env:K]}]\nmodels: [{name: fast, targets: [{provider: m, model: x}]}]\n",
			`providers[0].kind: "opnai" is not one of openai, openai-compatible, azure-openai, anthropic, mock; did you mean "openai"?`},
		{"providers[].key_strategy", "providers: [{name: m, kind: mock, key_strategy: roundrobin}]\nmodels: [{name: fast, targets: [{provider: m, model: x}]}]\n",
			`providers[0].key_strategy: "roundrobin" is not one of round_robin, weighted; did you mean "round_robin"?`},
		{"limits.output_tokens", base + "limits: {output_tokens: rejct}\n",
			`limits.output_tokens: "rejct" is not one of clamp, reject; did you mean "reject"?`},
		{"log.level", base + "log: {level: warning}\n",
			`log.level: "warning" is not one of debug, info, warn, error; did you mean "warn"?`},
		{"log.format", base + "log: {format: JSON}\n",
			`log.format: "JSON" is not one of json, text; did you mean "json"?`},
		{"store.driver", base + "store: {driver: sqlite3}\n",
			`store.driver: "sqlite3" is not one of sqlite, postgres; did you mean "sqlite"?`},
		{"redis.on_failure.rates", base + "redis: {on_failure: {rates: fail-open}}\n",
			`redis.on_failure.rates: "fail-open" is not one of fail_open, fail_closed; did you mean "fail_open"?`},
		{"redis.on_failure.concurrency", base + "redis: {on_failure: {concurrency: open}}\n",
			`redis.on_failure.concurrency: "open" is not one of fail_open, fail_closed`},
		{"redis.on_failure.spend", base + "redis: {on_failure: {spend: fail_closd}}\n",
			`redis.on_failure.spend: "fail_closd" is not one of fail_open, fail_closed; did you mean "fail_closed"?`},
		{"usage.unpriced", base + "usage: {unpriced: zeros}\n",
			`usage.unpriced: "zeros" is not one of deny, zero; did you mean "zero"?`},
		{"plans[].routes[]", base + "plans: [{name: p, routes: [chat, embedding]}]\n",
			`plans[0].routes[1]: "embedding" is not one of chat, responses, embeddings, messages, count_tokens, models; did you mean "embeddings"?`},
		{"auth.jwt[].algorithms[]", base + "auth: {jwt: [{issuer: https://a.example, jwks_url: https://a.example/jwks, algorithms: [RS265]}]}\n",
			`auth.jwt[0].algorithms[0]: "RS265" is not one of RS256, RS384, RS512, PS256, PS384, PS512, ES256, ES384, ES512, EdDSA, HS256, HS384, HS512; did you mean "RS256"?`},
	}
	covered := map[string]bool{}
	for _, tt := range tests {
		t.Run(tt.field, func(t *testing.T) {
			covered[tt.field] = true
			_, err := Parse([]byte(tt.yaml))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("want %q in:\n%v", tt.want, err)
			}
		})
	}
	for field := range Enumerations {
		if !covered[field] {
			t.Errorf("enumerated field %s has no case here", field)
		}
	}
}

func TestEnumeratedValueNotEchoedWhenUnsafe(t *testing.T) {
	const models = "models: [{name: fast, targets: [{provider: m, model: x}]}]\n"
	long := strings.Repeat("q7Zx", 10) // 40 characters: could be a secret pasted here
	for name, tt := range map[string]struct{ yaml, want string }{
		"long":        {"providers: [{name: m, kind: " + long + "}]\n" + models, "providers[0].kind: the value is not one of openai"},
		"empty":       {"providers: [{name: m, kind: \"\"}]\n" + models, "providers[0].kind: is required: one of openai, openai-compatible"},
		"control":     {"providers: [{name: m, kind: \"mo\\u0007ck\"}]\n" + models, "providers[0].kind: the value is not one of"},
		"no neighbor": {"providers: [{name: m, kind: gemini}]\n" + models, `providers[0].kind: "gemini" is not one of openai, openai-compatible, azure-openai, anthropic, mock` + "\n"},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := Parse([]byte(tt.yaml))
			if err == nil || !strings.Contains(err.Error()+"\n", tt.want) {
				t.Errorf("want %q in:\n%v", tt.want, err)
			}
			if err != nil && strings.Contains(err.Error(), long) {
				t.Errorf("the value was echoed: %v", err)
			}
		})
	}
}

func TestClosest(t *testing.T) {
	for _, tt := range []struct {
		v, want string
		allowed []string
	}{
		{"opnai", "openai", Kinds},
		{"Anthropic", "anthropic", Kinds},
		{"azure", "azure-openai", Kinds},
		{"openai_compatible", "openai-compatible", Kinds},
		{"open", "", Kinds},
		{"gemini", "", Kinds},
		{"HS265", "HS256", JWTAlgorithms},
		{"none", "", JWTAlgorithms},
		{"count-tokens", "count_tokens", RouteNames},
		{"", "", Kinds},
	} {
		if got := closest(tt.v, tt.allowed); got != tt.want {
			t.Errorf("closest(%q) = %q, want %q", tt.v, got, tt.want)
		}
	}
}

// TestEveryStringFieldIsClassified walks the configuration's string fields:
// each is either enumerated (and listed in Enumerations, so the tests above
// cover it) or free-form here. A new string field fails this test until it
// is classified.
func TestEveryStringFieldIsClassified(t *testing.T) {
	freeForm := []string{
		"listen", "providers[].name", "providers[].base_url", "providers[].keys[].ref", "providers[].api_version",
		"providers[].anthropic_version", "providers[].anthropic_betas[]", "providers[].mock.text",
		"models[].name", "models[].targets[].provider", "models[].targets[].model", "clients.keys[]",
		"store.path", "store.dsn", "redis.url", "redis.prefix", "auth.pepper", "auth.admin_keys[]", "auth.jwt[].issuer", "auth.jwt[].audience", "auth.jwt[].jwks_url",
		"auth.jwt[].secret", "auth.jwt[].user_claim", "auth.jwt[].plan_claim", "auth.jwt[].default_plan",
		"auth.browser_tokens.signing_key", "auth.browser_tokens.verification_keys[]", "auth.browser_tokens.issuers[].name",
		"auth.browser_tokens.issuers[].public_key", "auth.browser_tokens.issuers[].plan", "auth.default_plan", "auth.asserted_users.plan",
		"plans[].name", "plans[].models[]", "cors.allowed_origins[]", "pricing[].model", "metrics.listen", "trusted_proxies[]",
	}
	var got []string
	var walk func(t reflect.Type, path string)
	walk = func(t reflect.Type, path string) {
		for t.Kind() == reflect.Pointer {
			t = t.Elem()
		}
		switch t.Kind() {
		case reflect.String:
			got = append(got, path)
		case reflect.Slice:
			walk(t.Elem(), path+"[]")
		case reflect.Struct:
			for i := 0; i < t.NumField(); i++ {
				name, _, _ := strings.Cut(t.Field(i).Tag.Get("yaml"), ",")
				if name == "" || name == "-" {
					continue
				}
				p := name
				if path != "" {
					p = path + "." + name
				}
				walk(t.Field(i).Type, p)
			}
		}
	}
	walk(reflect.TypeOf(Config{}), "")
	sort.Strings(got)
	for _, p := range got {
		_, enum := Enumerations[p]
		if !enum && !slices.Contains(freeForm, p) {
			t.Errorf("string field %s is neither in Enumerations nor free-form", p)
		}
	}
	for p := range Enumerations {
		if !slices.Contains(got, p) {
			t.Errorf("Enumerations lists %s, which is not a string field", p)
		}
	}
	for _, p := range freeForm {
		if !slices.Contains(got, p) {
			t.Errorf("free-form list names %s, which is not a string field", p)
		}
	}
}
