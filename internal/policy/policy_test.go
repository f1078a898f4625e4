package policy

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/keyward/keyward/internal/apierr"
	"github.com/keyward/keyward/internal/provider"
)

var lim = Limits{MaxPromptChars: 100, MaxOutputTokens: 50, MaxJSONDepth: 8}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		name  string
		route provider.Route
		body  string
		l     Limits
		code  apierr.Code
		msg   string
	}{
		{"empty", provider.Chat, ``, lim, apierr.InvalidJSON, "empty"},
		{"syntax", provider.Chat, `{"model": "x",}`, lim, apierr.InvalidJSON, "at byte 13: invalid character ','"},
		{"cut short", provider.Chat, `{"model": "x"`, lim, apierr.InvalidJSON, "cut short"},
		{"array", provider.Chat, `[1,2]`, lim, apierr.InvalidJSON, "JSON object"},
		{"null", provider.Chat, `null`, lim, apierr.InvalidJSON, "JSON object"},
		{"no model", provider.Chat, `{"messages":[]}`, lim, apierr.ModelRequired, "name a model"},
		{"empty model", provider.Chat, `{"model":""}`, lim, apierr.ModelRequired, ""},
		{"model not string", provider.Chat, `{"model":5}`, lim, apierr.InvalidRequest, "string"},
		{"stream not bool", provider.Chat, `{"model":"x","stream":"yes"}`, lim, apierr.InvalidRequest, "true or false"},
		{"stream embeddings", provider.Embeddings, `{"model":"x","stream":true}`, lim, apierr.InvalidRequest, "does not stream"},
		{"deep", provider.Chat, `{"model":"x","a":[[[[[[[[[[1]]]]]]]]]]}`, lim, apierr.InvalidJSON, "nested deeper than 8"},
		{"prompt too large", provider.Chat, `{"model":"x","messages":[{"role":"user","content":"` + strings.Repeat("é", 101) + `"}]}`, lim, apierr.PromptTooLarge, "limit is 100"},
		{"system too large", provider.Messages, `{"model":"x","max_tokens":5,"system":"` + strings.Repeat("a", 101) + `"}`, lim, apierr.PromptTooLarge, ""},
		{"tokens negative", provider.Chat, `{"model":"x","max_tokens":-1}`, lim, apierr.InvalidRequest, "positive integer"},
		{"tokens float", provider.Chat, `{"model":"x","max_tokens":1.5}`, lim, apierr.InvalidRequest, "positive integer"},
		{"tokens reject", provider.Responses, `{"model":"x","max_output_tokens":51}`, Limits{MaxOutputTokens: 50, RejectOverCap: true}, apierr.OutputTokensExceeded, "limit is 50"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse(tt.route, []byte(tt.body), tt.l)
			pe, ok := err.(*Error)
			if !ok {
				t.Fatalf("err = %v, want *Error", err)
			}
			if pe.Code != tt.code || !strings.Contains(pe.Message, tt.msg) {
				t.Fatalf("got %s %q, want %s %q", pe.Code, pe.Message, tt.code, tt.msg)
			}
		})
	}
}

func body(t *testing.T, b []byte) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

func TestClampAndInject(t *testing.T) {
	tests := []struct {
		name       string
		route      provider.Route
		in         string
		tokenField string
		want       map[string]any
		clamped    []string
	}{
		{"clamp both chat fields", provider.Chat, `{"model":"fast","max_tokens":9999,"max_completion_tokens":100000,"messages":[]}`, "max_completion_tokens",
			map[string]any{"model": "gpt-x", "max_tokens": 50.0, "max_completion_tokens": 50.0, "messages": []any{}}, []string{"max_tokens", "max_completion_tokens"}},
		{"under cap untouched", provider.Chat, `{"model":"fast","max_tokens":10}`, "max_completion_tokens",
			map[string]any{"model": "gpt-x", "max_tokens": 10.0}, nil},
		{"inject when absent", provider.Chat, `{"model":"fast"}`, "max_tokens",
			map[string]any{"model": "gpt-x", "max_tokens": 50.0}, nil},
		{"responses", provider.Responses, `{"model":"fast","max_output_tokens":900,"input":"hi"}`, "max_output_tokens",
			map[string]any{"model": "gpt-x", "max_output_tokens": 50.0, "input": "hi"}, []string{"max_output_tokens"}},
		{"embeddings no tokens", provider.Embeddings, `{"model":"fast","input":["a","b"]}`, "",
			map[string]any{"model": "gpt-x", "input": []any{"a", "b"}}, nil},
		{"null token field", provider.Messages, `{"model":"fast","max_tokens":null}`, "max_tokens",
			map[string]any{"model": "gpt-x", "max_tokens": 50.0}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := Parse(tt.route, []byte(tt.in), lim)
			if err != nil {
				t.Fatal(err)
			}
			if r.Model != "fast" {
				t.Errorf("model = %q", r.Model)
			}
			if diff := cmp.Diff(tt.want, body(t, r.Body("gpt-x", tt.tokenField))); diff != "" {
				t.Errorf("body (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.clamped, r.Clamped); diff != "" {
				t.Errorf("clamped (-want +got):\n%s", diff)
			}
		})
	}
}

func TestPromptChars(t *testing.T) {
	r, err := Parse(provider.Chat, []byte(`{"model":"m","stream":true,"messages":[
		{"role":"user","content":[{"type":"text","text":"héllo"},{"type":"image_url","image_url":{"url":"data:image/png;base64,`+strings.Repeat("A", 5000)+`"}}]},
		{"role":"assistant","content":"abc"}]}`), Limits{MaxPromptChars: 100, MaxJSONDepth: 64})
	if err != nil {
		t.Fatal(err)
	}
	// "user"+"text"+"héllo"+"image_url"(type value)+"assistant"+"abc" = 4+4+5+9+9+3
	if r.PromptChars != 34 || !r.Stream {
		t.Fatalf("PromptChars = %d, Stream = %v", r.PromptChars, r.Stream)
	}
}

func TestTokenField(t *testing.T) {
	r := &Request{Route: provider.Responses}
	if r.TokenField(nil) != "max_output_tokens" {
		t.Fatal("responses field")
	}
}

func FuzzParse(f *testing.F) {
	f.Add([]byte(`{"model":"fast","messages":[{"role":"user","content":"hi"}],"max_tokens":10}`), uint8(1))
	f.Add([]byte(`{"model":"x","input":[{"type":"input_image","image_url":"data:..."}]}`), uint8(2))
	f.Add([]byte(`{"model":"x","system":[{"type":"text","text":"s"}],"max_tokens":1e400}`), uint8(4))
	f.Add([]byte(`{"model":"x","max_tokens":5,"messages":[{"role":"user","content":[{"typ\u0065":"docum\u0065nt","source":{"type":"text","data":"abc"}}]}],"tools":[{"type":"web\u005fsearch"}]}`), uint8(3))
	f.Add([]byte(`{"model":"x","input":[[1,2,3]],"encoding_format":"float"}`), uint8(2))
	f.Fuzz(func(t *testing.T, b []byte, route uint8) {
		rt := provider.Route(route%5 + 1)
		r, err := Parse(rt, b, Limits{MaxPromptChars: 1000, MaxOutputTokens: 100, MaxJSONDepth: 32})
		if err != nil {
			if _, ok := err.(*Error); !ok {
				t.Fatalf("error of type %T", err)
			}
			return
		}
		tokenField := ""
		if fs := rt.TokenFields(); len(fs) > 0 {
			tokenField = fs[0] // as TokenField picks: one of the route's
		}
		out := r.Body("target", tokenField)
		var m map[string]json.RawMessage
		if err := json.Unmarshal(out, &m); err != nil {
			t.Fatalf("rebuilt body is invalid: %v", err)
		}
		if string(m["model"]) != `"target"` {
			t.Fatalf("model not replaced: %s", m["model"])
		}
		for _, f := range rt.TokenFields() {
			var n int
			if v, ok := m[f]; ok && string(v) != "null" && json.Unmarshal(v, &n) == nil && n > 100 {
				t.Fatalf("%s = %d above the cap", f, n)
			}
		}
		// What is forwarded is what was checked: the rebuilt body, parsed
		// again, is classified the same, and encodes to itself.
		again, err := Parse(rt, out, Limits{MaxOutputTokens: 100, MaxJSONDepth: 33})
		if err != nil {
			t.Fatalf("rebuilt body refused: %v\n%s", err, out)
		}
		if again.Images != r.Images || again.Documents != r.Documents || again.PromptNumbers != r.PromptNumbers ||
			again.Unbounded() != r.Unbounded() || again.Reasons() != r.Reasons() || again.Stream != r.Stream {
			t.Fatalf("the rebuilt body is classified differently:\n%s", out)
		}
		if string(again.Body("target", tokenField)) != string(out) {
			t.Fatalf("encoding is not stable:\n%s\n%s", out, again.Body("target", tokenField))
		}
	})
}

func TestReasons(t *testing.T) {
	tests := []struct {
		route provider.Route
		body  string
		want  bool
	}{
		{provider.Chat, `{"model":"m","reasoning_effort":"high"}`, true},
		{provider.Chat, `{"model":"m","reasoning_effort":"minimal"}`, false},
		{provider.Chat, `{"model":"m"}`, false},
		{provider.Responses, `{"model":"m","reasoning":{"effort":"medium"}}`, true},
		{provider.Responses, `{"model":"m","reasoning":{"summary":"auto"}}`, true},
		{provider.Responses, `{"model":"m","reasoning":{"effort":"none"}}`, false},
		{provider.Responses, `{"model":"m","reasoning":null}`, false},
		{provider.Messages, `{"model":"m","max_tokens":10,"thinking":{"type":"enabled","budget_tokens":5000}}`, true},
		{provider.Messages, `{"model":"m","max_tokens":10,"thinking":{"type":"disabled"}}`, false},
		{provider.Embeddings, `{"model":"m","input":"x","reasoning_effort":"high"}`, false},
	}
	for _, tt := range tests {
		r, err := Parse(tt.route, []byte(tt.body), Limits{MaxJSONDepth: 16})
		if err != nil {
			t.Fatal(err)
		}
		if got := r.Reasons(); got != tt.want {
			t.Errorf("%v %s: Reasons() = %v", tt.route, tt.body, got)
		}
	}
}
