package server

import (
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/keyward/keyward/internal/store"
)

// TestSpendCapsReadDecodedJSON: the spend reservation and the unbounded-cost
// check decide on the decoded request, so a JSON escape in a part's or a
// tool's type changes nothing — the adversarial review's reproduction: a
// document spelled "docum\u0065nt" under a $0.05/day cap was admitted with
// an 8,016 µUSD reservation and billed 750,240.
func TestSpendCapsReadDecodedJSON(t *testing.T) {
	h := newMeteredHarness(t, "    spend: {daily_usd: 0.05}\n", nil)
	refused := []struct{ name, path, body, code string }{
		{"document", "/v1/messages", `{"model":"fast","max_tokens":10,"messages":[{"role":"user","content":[{"type":"document","source":{"type":"url","url":"https://example.com/a.pdf"}}]}]}`, "insufficient_quota"},
		{"document escaped", "/v1/messages", `{"model":"fast","max_tokens":10,"messages":[{"role":"user","content":[{"type":"docum\u0065nt","source":{"type":"url","url":"https://example.com/a.pdf"}}]}]}`, "insufficient_quota"},
		{"type name escaped", "/v1/messages", `{"model":"fast","max_tokens":10,"messages":[{"role":"user","content":[{"\u0074ype":"document","source":{"type":"url","url":"https://example.com/a.pdf"}}]}]}`, "insufficient_quota"},
		{"chat file escaped", "/v1/chat/completions", `{"model":"fast","max_tokens":10,"messages":[{"role":"user","content":[{"type":"fil\u0065","file":{"file_id":"file-1"}}]}]}`, "insufficient_quota"},
		{"web search escaped", "/v1/responses", `{"model":"fast","input":"news?","tools":[{"type":"web\u005fsearch"}]}`, "cost_not_bounded"},
		{"tool type member escaped", "/v1/responses", `{"model":"fast","input":"x","tools":[{"typ\u0065":"code_interpreter","container":{"type":"auto"}}]}`, "cost_not_bounded"},
		{"mcp escaped", "/v1/responses", `{"model":"fast","input":"x","tools":[{"type":"\u006dcp","server_label":"s","server_url":"https://example.com"}]}`, "cost_not_bounded"},
		{"anthropic web search escaped", "/v1/messages", `{"model":"fast","max_tokens":10,"messages":[],"tools":[{"type":"web\u005fsearch_20250305","name":"web_search"}]}`, "cost_not_bounded"},
		{"item reference", "/v1/responses", `{"model":"fast","input":[{"type":"item_reference","id":"msg_1"}]}`, "cost_not_bounded"},
		{"chat web_search_options", "/v1/chat/completions", `{"model":"fast","messages":[],"web_search_options":{}}`, "cost_not_bounded"},
		{"duplicate member", "/v1/messages", `{"model":"fast","max_tokens":10,"messages":[{"role":"user","content":[{"type":"text","text":"x","type":"document","source":{"type":"url","url":"u"}}]}]}`, "invalid_json"},
	}
	for _, tt := range refused {
		t.Run(tt.name, func(t *testing.T) {
			r := h.do("POST", tt.path, tt.body)
			if r.errorCode() != tt.code {
				t.Fatalf("%d %s, want %s", r.status, r.body, tt.code)
			}
		})
	}
	// 300 escaped documents spend nothing.
	if got := h.spent(); got != 0 {
		t.Fatalf("spent %d µUSD", got)
	}
}

// spent is what the harness's usage records add up to, in µUSD.
func (h *harness) spent() int64 {
	h.t.Helper()
	var n int64
	for _, g := range h.summary("key", store.UsageFilter{}) {
		n += g.CostMicros
	}
	return n
}

// TestForwardedIsWhatWasChecked: the provider receives the decoded request
// keyward classified — no escape survives to be decoded differently — in
// the client's member order.
func TestForwardedIsWhatWasChecked(t *testing.T) {
	var mu sync.Mutex
	var got []string
	h := newMeteredHarness(t, "", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		got = append(got, string(b))
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprint(w, `{"id":"x","choices":[],"usage":{"prompt_tokens":5,"completion_tokens":5}}`)
	}))
	r := h.do("POST", "/v1/chat/completions", `{"model":"real","messages":[{"role":"user","content":[{"typ\u0065":"fil\u0065","file":{"file_id":"file-1"}}]}],"max_tokens":10,"temperature":0.50}`)
	if r.status != 200 {
		t.Fatalf("%d %s", r.status, r.body)
	}
	mu.Lock()
	defer mu.Unlock()
	want := `{"model":"gpt-test","messages":[{"role":"user","content":[{"type":"file","file":{"file_id":"file-1"}}]}],"max_tokens":10,"temperature":0.50}`
	if len(got) != 1 || got[0] != want {
		t.Fatalf("upstream got %q\nwant %q", got, want)
	}
}

// TestTokenArraysCountAsTokens: an embeddings input of token arrays is
// estimated a token a number, so 50 concurrent 1,500-token requests pass a
// 2,000 tpm limit once, and a single request larger than the limit is
// refused as too large rather than admitted.
func TestTokenArraysCountAsTokens(t *testing.T) {
	// The provider bills what it was sent: 1,500 tokens.
	h := newMeteredHarness(t, "    tpm: 2000\n", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprint(w, `{"object":"list","data":[],"usage":{"prompt_tokens":1500,"total_tokens":1500}}`)
	}))
	tokens := func(n int) string {
		parts := make([]string, n)
		for i := range parts {
			parts[i] = "1000"
		}
		return "[[" + strings.Join(parts, ",") + "]]"
	}
	r := h.do("POST", "/v1/embeddings", `{"model":"real","input":`+tokens(4000)+`}`)
	if r.status != 413 || r.errorCode() != "tokens_over_limit" || !strings.Contains(r.body, "2000 tokens per minute") {
		t.Fatalf("a 4,000-token request: %d %s", r.status, r.body)
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	statuses := map[int]int{}
	body := `{"model":"real","input":` + tokens(1500) + `}`
	for range 50 {
		wg.Go(func() {
			r := h.do("POST", "/v1/embeddings", body)
			mu.Lock()
			statuses[r.status]++
			mu.Unlock()
		})
	}
	wg.Wait()
	if statuses[200] != 1 || statuses[429] != 49 {
		t.Fatalf("statuses %v, want one 200 and 49 429s", statuses)
	}
}

// TestPromptCapCountsDocumentsAndSchemas: max_prompt_chars counts text
// documents and response-format schemas, which the provider tokenizes.
func TestPromptCapCountsDocumentsAndSchemas(t *testing.T) {
	h := newMeteredHarness(t, "    max_prompt_chars: 1000\n", nil)
	long := strings.Repeat("a", 1200)
	for _, c := range []struct{ name, path, body string }{
		{"text document", "/v1/messages", `{"model":"fast","max_tokens":10,"messages":[{"role":"user","content":[{"type":"document","source":{"type":"text","media_type":"text/plain","data":"` + long + `"}}]}]}`},
		{"response_format schema", "/v1/chat/completions", `{"model":"fast","messages":[],"response_format":{"type":"json_schema","json_schema":{"name":"r","schema":{"type":"object","description":"` + long + `"}}}}`},
		{"response_format property names", "/v1/chat/completions", `{"model":"fast","messages":[],"response_format":{"type":"json_schema","json_schema":{"name":"r","schema":{"type":"object","properties":{"` + long + `":{"type":"string"}}}}}}`},
		{"responses text format", "/v1/responses", `{"model":"fast","input":"x","text":{"format":{"type":"json_schema","name":"r","schema":{"description":"` + long + `"}}}}`},
	} {
		t.Run(c.name, func(t *testing.T) {
			if r := h.do("POST", c.path, c.body); r.status != 413 || r.errorCode() != "prompt_too_large" {
				t.Fatalf("%d %s", r.status, r.body)
			}
		})
	}
}

// TestDisconnectFromReasoningModelCharged: a model that reasons by default
// (o4-mini, by the price table) bills its hidden reasoning even when the
// request did not ask for it, so a client that leaves after the first
// words is charged the output cap; a request that turned reasoning off is
// charged what streamed.
func TestDisconnectFromReasoningModelCharged(t *testing.T) {
	cfg := strings.Replace(meteredConfig, "models:\n", "models:\n  - {name: thinker, targets: [{provider: slow, model: o4-mini}]}\n", 1)
	env := map[string]string{"K": canaryOpenAI, "CLIENT_KEY": canaryClient, "PEPPER": meteredPepper, "ADMIN": adminCanary}
	h := newHarness(t, cfg, env, nil, newUpstream(t, http.NotFoundHandler()))
	for i, c := range []struct {
		name, extra string
		full        bool
	}{
		{"not asked", ``, true},
		{"turned off", `,"reasoning_effort":"none"`, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			id := leaveAfterWords(t, h, `{"model":"thinker","stream":true,"max_completion_tokens":700,"messages":[]`+c.extra+`}`)
			h.flushed(int64(i + 1))
			rec := h.record(id)
			if rec.Metered != "estimated" || (rec.Output == 700) != c.full || rec.Output == 0 {
				t.Fatalf("record %+v", rec)
			}
		})
	}
}
