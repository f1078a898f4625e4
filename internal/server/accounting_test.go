package server

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/keyward/keyward/internal/auth"
	"github.com/keyward/keyward/internal/budget"
	"github.com/keyward/keyward/internal/config"
	"github.com/keyward/keyward/internal/store"
	"github.com/keyward/keyward/internal/usage"
)

const (
	adminCanary   = "admin-CANARY-" + "adminadminadminadmin"
	meteredPepper = "pepper-CANARY-" + "pepperpepperpepper"
)

// meteredConfig prices the mock's models at 1 µUSD per input token and 2
// per output token; the mock reports 100 input and 50 output tokens.
const meteredConfig = `listen: 127.0.0.1:0
providers:
  - name: mock
    kind: mock
    mock: {prompt_tokens: 100, completion_tokens: 50, chunks: 5}
  - name: slow
    kind: mock
    mock: {prompt_tokens: 100, completion_tokens: 50, chunks: 40, chunk_delay: 25ms}
  - {name: up, kind: openai, base_url: "{{UPSTREAM}}/v1", keys: [env:K]}
clients:
  keys: [env:CLIENT_KEY]
auth:
  pepper: env:PEPPER
  admin_keys: [env:ADMIN]
  default_plan: metered
  failed_per_minute: 100000
models:
  - {name: fast, targets: [{provider: mock, model: mock-fast}]}
  - {name: slow, targets: [{provider: slow, model: mock-slow}]}
  - {name: unpriced, targets: [{provider: mock, model: mystery-model}]}
  - {name: unpriced-real, targets: [{provider: up, model: mystery-real}]}
  - {name: real, targets: [{provider: up, model: gpt-test}]}
pricing:
  - {model: mock-fast, input: 1, output: 2}
  - {model: mock-slow, input: 1, output: 2}
  - {model: gpt-test, input: 1, output: 2}
plans:
  - name: metered
`

func newMeteredHarness(t *testing.T, planYAML string, upstream http.Handler) *harness {
	t.Helper()
	cfg := meteredConfig + planYAML
	env := map[string]string{"K": canaryOpenAI, "CLIENT_KEY": canaryClient, "PEPPER": meteredPepper, "ADMIN": adminCanary}
	if upstream == nil {
		upstream = http.NotFoundHandler()
	}
	return newHarness(t, cfg, env, nil, newUpstream(t, upstream))
}

// flushed waits until the usage writer has written n records in all.
func (h *harness) flushed(n int64) {
	h.t.Helper()
	waitFor(h.t, fmt.Sprintf("%d usage records", n), func() bool { return h.usage.Written() >= n })
}

func (h *harness) summary(by string, f store.UsageFilter) []store.UsageGroup {
	h.t.Helper()
	g, err := h.db.SummarizeUsage(context.Background(), f, by)
	if err != nil {
		h.t.Fatal(err)
	}
	return g
}

func bearer(k string) []string { return []string{"Authorization", "Bearer " + k} }

// record is the usage record of a request.
func (h *harness) record(requestID string) store.UsageRecord {
	h.t.Helper()
	recs, err := h.db.ListUsage(context.Background(), store.UsageFilter{RequestID: requestID}, 1)
	if err != nil || len(recs) != 1 {
		h.t.Fatalf("usage record of %s: %v %v", requestID, recs, err)
	}
	return recs[0]
}

// TestUsageRecorded: every route, streamed or not, records the provider's
// usage and its cost, as metadata only.
func TestUsageRecorded(t *testing.T) {
	h := newMeteredHarness(t, "", nil)
	tests := []struct {
		path, body string
		want       store.UsageGroup
	}{
		{"/v1/chat/completions", `{"model":"fast","messages":[{"role":"user","content":"secret prompt text"}]}`, store.UsageGroup{Input: 100, Output: 50, CostMicros: 200}},
		{"/v1/chat/completions", `{"model":"fast","stream":true,"messages":[{"role":"user","content":"hi"}]}`, store.UsageGroup{Input: 100, Output: 50, CostMicros: 200}},
		{"/v1/responses", `{"model":"fast","input":"hi"}`, store.UsageGroup{Input: 100, Output: 50, CostMicros: 200}},
		{"/v1/responses", `{"model":"fast","stream":true,"input":"hi"}`, store.UsageGroup{Input: 100, Output: 50, CostMicros: 200}},
		{"/v1/embeddings", `{"model":"fast","input":"hi"}`, store.UsageGroup{Input: 100, CostMicros: 100}},
		{"/v1/messages", `{"model":"fast","max_tokens":10,"messages":[{"role":"user","content":"hi"}]}`, store.UsageGroup{Input: 100, Output: 50, CostMicros: 200}},
		{"/v1/messages", `{"model":"fast","max_tokens":10,"stream":true,"messages":[{"role":"user","content":"hi"}]}`, store.UsageGroup{Input: 100, Output: 50, CostMicros: 200}},
		{"/v1/messages/count_tokens", `{"model":"fast","messages":[{"role":"user","content":"hi"}]}`, store.UsageGroup{}},
	}
	for i, tt := range tests {
		r := h.do("POST", tt.path, tt.body)
		if r.status != 200 {
			t.Fatalf("%s: %d %s", tt.path, r.status, r.body)
		}
		h.flushed(int64(i + 1))
		rec := h.record(r.header.Get("X-Request-Id"))
		if rec.Metered != "reported" || rec.Status != 200 || rec.Streamed != strings.Contains(tt.body, `"stream":true`) || rec.Model != "fast" || rec.TargetModel != "mock-fast" || rec.Provider != "mock" {
			t.Errorf("%s: record %+v", tt.path, rec)
		}
		got := store.UsageGroup{Input: rec.Input, Output: rec.Output, CostMicros: rec.CostMicros}
		if diff := cmp.Diff(tt.want, got); diff != "" {
			t.Errorf("%s %s (-want +got):\n%s", tt.path, tt.body, diff)
		}
	}
	// Metadata only: no prompt text, no credential.
	all, err := h.db.ListUsage(context.Background(), store.UsageFilter{}, 1000)
	if err != nil {
		t.Fatal(err)
	}
	dump := fmt.Sprintf("%+v", all)
	if strings.Contains(dump, "secret prompt text") {
		t.Error("a prompt reached the usage table")
	}
	assertNoCanary(t, "usage table", dump)
	by := h.summary(store.ByModel, store.UsageFilter{})
	if len(by) != 1 || by[0].Group != "fast" || by[0].Requests != int64(len(tests)) {
		t.Errorf("by model: %+v", by)
	}
}

// TestIncludeUsageInvisible: keyward asks every chat stream for its usage,
// and a client that did not ask sees exactly the stream it would have got
// without keyward: no usage chunk and no "usage": null fields.
func TestIncludeUsageInvisible(t *testing.T) {
	h := newMeteredHarness(t, "", nil)
	events := func(body string) []map[string]any {
		r := h.do("POST", "/v1/chat/completions", body)
		if r.status != 200 {
			t.Fatalf("%d %s", r.status, r.body)
		}
		var out []map[string]any
		for _, line := range strings.Split(r.body, "\n") {
			data, ok := strings.CutPrefix(line, "data: ")
			if !ok {
				continue
			}
			if data == "[DONE]" {
				out = append(out, map[string]any{"done": true})
				continue
			}
			var m map[string]any
			if err := json.Unmarshal([]byte(data), &m); err != nil {
				t.Fatalf("bad event %q: %v", data, err)
			}
			delete(m, "id") // the mock numbers its answers
			out = append(out, m)
		}
		return out
	}
	plain := events(`{"model":"fast","stream":true,"messages":[{"role":"user","content":"hi"}]}`)
	for i, ev := range plain {
		if _, ok := ev["usage"]; ok {
			t.Errorf("event %d carries usage the client did not ask for: %v", i, ev)
		}
	}
	// What the mock sends when nobody asks for usage: role, 5 chunks,
	// finish, [DONE].
	if len(plain) != 8 {
		t.Fatalf("%d events, want 8: %v", len(plain), plain)
	}
	asked := events(`{"model":"fast","stream":true,"stream_options":{"include_usage":true},"messages":[{"role":"user","content":"hi"}]}`)
	if len(asked) != 9 {
		t.Fatalf("with include_usage: %d events, want 9", len(asked))
	}
	if u, ok := asked[7]["usage"].(map[string]any); !ok || u["prompt_tokens"] != 100.0 {
		t.Errorf("the client's own usage chunk is missing: %v", asked[7])
	}
	// Apart from the fields include_usage adds, the streams are the same.
	var stripped []map[string]any
	for _, ev := range asked {
		if u, ok := ev["usage"]; ok && u != nil {
			continue
		}
		delete(ev, "usage")
		stripped = append(stripped, ev)
	}
	if diff := cmp.Diff(plain, stripped); diff != "" {
		t.Errorf("streams differ (-plain +asked):\n%s", diff)
	}
	h.flushed(2)
	if g := h.summary(store.ByModel, store.UsageFilter{}); len(g) != 1 || g[0].Output != 100 || g[0].Input != 200 {
		t.Errorf("both streams must be metered: %+v", g)
	}
}

// TestDisconnectCharged: a client that leaves mid-stream is charged its
// input and the output streamed so far — never zero.
func TestDisconnectCharged(t *testing.T) {
	h := newMeteredHarness(t, "", nil)
	for _, tt := range []struct{ path, body string }{
		{"/v1/chat/completions", `{"model":"slow","stream":true,"messages":[{"role":"user","content":"tell me a long story"}]}`},
		{"/v1/messages", `{"model":"slow","max_tokens":500,"stream":true,"messages":[{"role":"user","content":"tell me a long story"}]}`},
		{"/v1/responses", `{"model":"slow","stream":true,"input":"tell me a long story"}`},
	} {
		t.Run(tt.path, func(t *testing.T) {
			before := h.usage.Written()
			ctx, cancel := context.WithCancel(context.Background())
			req, _ := http.NewRequestWithContext(ctx, "POST", h.srv.URL+tt.path, strings.NewReader(tt.body))
			req.Header.Set("Authorization", "Bearer "+canaryClient)
			req.Header.Set("Content-Type", "application/json")
			resp, err := h.srv.Client().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			sc := bufio.NewScanner(resp.Body)
			deltas := 0
			for deltas < 3 && sc.Scan() {
				if strings.Contains(sc.Text(), "delta") {
					deltas++
				}
			}
			cancel()
			resp.Body.Close()
			h.flushed(before + 1)
			rec := h.record(resp.Header.Get("X-Request-Id"))
			in, out, cost, metered := rec.Input+rec.CachedInput+rec.CacheWrite, rec.Output, rec.CostMicros, rec.Metered
			if metered != "estimated" || in <= 0 || out < 2 || out >= 50 || cost != in+2*out {
				t.Errorf("disconnect charged input %d output %d cost %d (%s); want input and partial output", in, out, cost, metered)
			}
		})
	}
}

// TestDisconnectMidBodyCharged: a client that stops reading a complete
// (non-streaming) answer is charged what the provider generated: the
// input and the whole output cap. The reverse proxy aborts the handler
// with a panic there; the usage is settled all the same.
func TestDisconnectMidBodyCharged(t *testing.T) {
	up := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"id":"x","object":"chat.completion","choices":[{"index":0,"message":{"role":"assistant","content":"`)
		chunk := strings.Repeat("a", 64<<10)
		for i := 0; i < 128; i++ { // 8 MiB
			if _, err := io.WriteString(w, chunk); err != nil {
				return
			}
			w.(http.Flusher).Flush()
		}
		io.WriteString(w, `"}}],"usage":{"prompt_tokens":7,"completion_tokens":9}}`)
	})
	h := newMeteredHarness(t, "", up)
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, "POST", h.srv.URL+"/v1/chat/completions", strings.NewReader(`{"model":"real","max_tokens":100,"messages":[{"role":"user","content":"write a lot"}]}`))
	req.Header.Set("Authorization", "Bearer "+canaryClient)
	req.Header.Set("Content-Type", "application/json")
	resp, err := h.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	io.ReadFull(resp.Body, make([]byte, 64<<10))
	cancel()
	resp.Body.Close()
	h.flushed(1)
	rec := h.record(resp.Header.Get("X-Request-Id"))
	if rec.Metered != "estimated" || rec.Input < usage.EstimateInput(len("write a lot"), 0) || rec.Output != 100 || rec.CostMicros != rec.Input+200 || rec.Status != 499 {
		t.Fatalf("a client that stopped reading: %+v", rec)
	}
}

// TestUpstreamErrorChargesNothing: an upstream error with no usage
// reported costs nothing, and releases its reservation.
func TestUpstreamErrorChargesNothing(t *testing.T) {
	h := newMeteredHarness(t, "    spend: {daily_usd: 1}\n", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(500)
		fmt.Fprint(w, `{"error":{"message":"boom"}}`)
	}))
	r := h.do("POST", "/v1/chat/completions", `{"model":"real","messages":[]}`)
	if r.status != 502 {
		t.Fatalf("%d %s", r.status, r.body)
	}
	h.flushed(1)
	g := h.summary(store.ByKey, store.UsageFilter{})
	if len(g) != 1 || g[0].CostMicros != 0 || g[0].Input != 0 {
		t.Errorf("an upstream error was charged: %+v", g)
	}
}

// TestConcurrencyReleased: a plan's concurrency slot is released on every
// way out of a request — success, upstream error, broken stream, client
// disconnect and panic — so the next request always gets in.
func TestConcurrencyReleased(t *testing.T) {
	up := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprint(w, `{"id":"x","object":"chat.completion","choices":[],"usage":{"prompt_tokens":1,"completion_tokens":1}}`)
	})
	h := newMeteredHarness(t, "    concurrency: 1\n", up)
	ok := func(step string) {
		t.Helper()
		if r := h.do("POST", "/v1/chat/completions", `{"model":"fast","messages":[]}`); r.status != 200 {
			t.Fatalf("after %s: %d %s", step, r.status, r.body)
		}
	}
	ok("start")
	ok("success")
	if r := h.do("POST", "/v1/chat/completions", `{"model":"fast","messages":[{"role":"user","content":"[[mock:status=503]]"}]}`); r.status != 503 {
		t.Fatalf("injected 503: %d", r.status)
	}
	ok("upstream error")
	if r := h.do("POST", "/v1/chat/completions", `{"model":"fast","stream":true,"messages":[{"role":"user","content":"[[mock:break=2]]"}]}`); r.status != 200 {
		t.Fatalf("broken stream: %d", r.status)
	}
	ok("broken stream")
	// A disconnect mid-stream.
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, "POST", h.srv.URL+"/v1/chat/completions", strings.NewReader(`{"model":"slow","stream":true,"messages":[]}`))
	req.Header.Set("Authorization", "Bearer "+canaryClient)
	req.Header.Set("Content-Type", "application/json")
	resp, err := h.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	// While the stream runs, the slot is taken.
	if r := h.do("POST", "/v1/chat/completions", `{"model":"fast","messages":[]}`); r.status != 429 || r.errorCode() != "rate_limited_concurrency" || r.header.Get("Retry-After") == "" {
		t.Fatalf("second concurrent request: %d %s", r.status, r.body)
	}
	cancel()
	resp.Body.Close()
	waitFor(t, "the slot of the disconnected stream", func() bool {
		return h.do("POST", "/v1/chat/completions", `{"model":"fast","messages":[]}`).status == 200
	})
	if r := h.do("POST", "/v1/chat/completions", `{"model":"real","messages":[{"role":"user","content":"[[test:panic]]"}]}`); r.status != 500 {
		t.Fatalf("panic: %d %s", r.status, r.body)
	}
	ok("panic")
	if !strings.Contains(h.logs.String(), "panic while serving a request") {
		t.Error("the panic was not logged")
	}
}

// TestTokenLimit: tpm takes the estimate (input from the prompt's size,
// plus the output cap) before the request and the real usage after, so
// small answers give most of the estimate back.
func TestTokenLimit(t *testing.T) {
	h := newMeteredHarness(t, "    tpm: 2000\n    max_output_tokens: 600\n", nil)
	chat := `{"model":"fast","messages":[{"role":"user","content":"hi"}]}`
	// Each request is estimated at ~609 tokens and uses 150: without the
	// reconciliation only three would fit in a minute.
	for i := 0; i < 10; i++ {
		r := h.do("POST", "/v1/chat/completions", chat)
		if r.status != 200 {
			t.Fatalf("request %d: %d %s", i, r.status, r.body)
		}
		if r.header.Get("X-Ratelimit-Limit-Tokens") != "2000" || r.header.Get("X-Ratelimit-Remaining-Tokens") == "" || r.header.Get("X-Ratelimit-Reset-Tokens") == "" {
			t.Fatalf("request %d: token headers %v", i, r.header)
		}
	}
	// 10 × 150 used, so about 500 remain (a little more as the clock runs:
	// 2000 a minute is 33 a second): an estimate above that is refused.
	r := h.do("POST", "/v1/chat/completions", chat)
	remaining, _ := strconv.Atoi(r.header.Get("X-Ratelimit-Remaining-Tokens"))
	if r.status != 429 || r.errorCode() != "rate_limited_tokens" || r.header.Get("Retry-After") == "" ||
		remaining < 500 || remaining > 600 || !strings.Contains(r.body, "2000 tokens per minute") {
		t.Fatalf("over the token limit: %d %s %v", r.status, r.body, r.header)
	}
	// A smaller cap fits.
	if r := h.do("POST", "/v1/chat/completions", `{"model":"fast","max_tokens":100,"messages":[]}`); r.status != 200 {
		t.Fatalf("small request: %d %s", r.status, r.body)
	}
}

// TestRequestLimitGivenBack: a request refused by a later limit does not
// use up its request-rate unit.
func TestRequestLimitGivenBack(t *testing.T) {
	h := newMeteredHarness(t, "    rpm: 2\n    concurrency: 1\n", nil)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "POST", h.srv.URL+"/v1/chat/completions", strings.NewReader(`{"model":"slow","stream":true,"messages":[]}`))
	req.Header.Set("Authorization", "Bearer "+canaryClient)
	req.Header.Set("Content-Type", "application/json")
	resp, err := h.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 3; i++ {
		if r := h.do("POST", "/v1/chat/completions", `{"model":"fast","messages":[]}`); r.errorCode() != "rate_limited_concurrency" {
			t.Fatalf("refused by concurrency: %d %s", r.status, r.body)
		}
	}
	cancel()
	resp.Body.Close()
	// One of the two rpm units is left: the refused requests took none.
	waitFor(t, "the stream's slot", func() bool {
		return h.do("POST", "/v1/chat/completions", `{"model":"fast","messages":[]}`).status == 200
	})
	if r := h.do("POST", "/v1/chat/completions", `{"model":"fast","messages":[]}`); r.errorCode() != "rate_limited_requests" {
		t.Fatalf("third request in the minute: %d %s", r.status, r.body)
	}
}

// TestBudgetRace: 200 concurrent requests against one cap: the real spend
// never exceeds it.
func TestBudgetRace(t *testing.T) {
	// Each request costs 200 µUSD and reserves ~1.2k; the cap allows 25.
	h := newMeteredHarness(t, "    spend: {daily_usd: 0.005}\n", nil)
	_, key := createKey(t, h, auth.CreateOptions{Name: "racer", Plan: "metered", User: "racer"})
	var okN, refused atomic.Int64
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := 0; i < 200; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			r := h.do("POST", "/v1/chat/completions", `{"model":"fast","max_tokens":50,"messages":[{"role":"user","content":"go"}]}`, bearer(key)...)
			switch {
			case r.status == 200:
				okN.Add(1)
			case r.status == 429 && r.errorCode() == "insufficient_quota" && strings.Contains(r.body, `"type":"insufficient_quota"`):
				refused.Add(1)
			default:
				t.Errorf("unexpected answer %d %s", r.status, r.body)
			}
		}()
	}
	close(start)
	wg.Wait()
	if okN.Load() == 0 || refused.Load() == 0 || okN.Load()+refused.Load() != 200 {
		t.Fatalf("%d answered, %d refused", okN.Load(), refused.Load())
	}
	h.flushed(okN.Load())
	spent, err := h.db.SpentMicros(context.Background(), store.SpendFilter{User: "racer"})
	if err != nil {
		t.Fatal(err)
	}
	if spent > 5000 {
		t.Fatalf("spent %d µUSD against a cap of 5000", spent)
	}
	if spent != okN.Load()*200 {
		t.Fatalf("spent %d, want %d × 200", spent, okN.Load())
	}
	t.Logf("%d served, %d refused, %d µUSD of 5000 spent", okN.Load(), refused.Load(), spent)
}

// TestBudgets: operators' budgets from the admin API apply to a user at
// once; the refusal says which cap, how much and when it resets; spend
// survives a restart (the ledger reads earlier records).
func TestBudgets(t *testing.T) {
	h := newMeteredHarness(t, "", nil)
	_, key := createKey(t, h, auth.CreateOptions{Name: "a", Plan: "metered", User: "alice"})
	admin := bearer(adminCanary)
	if r := h.do("PUT", "/admin/api/budgets/user/alice", `{"daily_usd":0.005}`, admin...); r.status != 200 || !strings.Contains(r.body, `"daily_usd":0.005`) {
		t.Fatalf("put budget: %d %s", r.status, r.body)
	}
	chat := `{"model":"fast","max_tokens":50,"messages":[]}`
	served := 0
	for ; served < 40; served++ {
		r := h.do("POST", "/v1/chat/completions", chat, bearer(key)...)
		if r.status == 429 {
			if r.errorCode() != "insufficient_quota" || !strings.Contains(r.body, "daily spend cap of $0.005 for this user") || r.header.Get("Retry-After") == "" {
				t.Fatalf("refusal: %s %v", r.body, r.header)
			}
			break
		}
		if r.status != 200 {
			t.Fatalf("%d %s", r.status, r.body)
		}
	}
	if served < 15 || served == 40 {
		t.Fatalf("%d served under a $0.005 cap (200 µUSD each, ~1.2k reserved)", served)
	}
	// Other users are not affected.
	if r := h.do("POST", "/v1/chat/completions", chat); r.status != 200 {
		t.Fatalf("client key: %d", r.status)
	}
	h.flushed(int64(served + 1))
	r := h.do("GET", "/admin/api/usage?by=user&since=1d", "", admin...)
	var rep struct {
		Data []usage.GroupJSON `json:"data"`
	}
	if r.status != 200 || json.Unmarshal([]byte(r.body), &rep) != nil || len(rep.Data) != 2 {
		t.Fatalf("usage: %d %s", r.status, r.body)
	}
	if r := h.do("GET", "/admin/api/usage?by=day&format=csv", "", admin...); r.status != 200 || !strings.HasPrefix(r.body, "day,requests,") {
		t.Fatalf("usage csv: %d %s", r.status, r.body)
	}
	for _, bad := range []string{"/admin/api/usage?by=ip", "/admin/api/usage?since=yesterday", "/admin/api/usage?format=xml"} {
		if r := h.do("GET", bad, "", admin...); r.status != 400 {
			t.Errorf("%s: %d", bad, r.status)
		}
	}
	if r := h.do("GET", "/admin/api/budgets", "", admin...); r.status != 200 || !strings.Contains(r.body, `"subject":"alice"`) {
		t.Fatalf("list budgets: %d %s", r.status, r.body)
	}
	// A fresh ledger (a restart) reads alice's spend from the records.
	l := budget.NewMemoryLedger(budget.StoreSpend{Usage: h.db})
	c := budget.Cap{Scope: budget.ScopeUser, User: "alice", Period: budget.Daily, Limit: 5000}
	if spent, _, err := l.Spent(context.Background(), c, time.Now()); err != nil || spent != int64(served)*200 {
		t.Fatalf("restarted ledger: spent %d, %v; want %d", spent, err, served*200)
	}
	if r := h.do("DELETE", "/admin/api/budgets/user/alice", "", admin...); r.status != 204 {
		t.Fatalf("delete: %d", r.status)
	}
	if r := h.do("POST", "/v1/chat/completions", chat, bearer(key)...); r.status != 200 {
		t.Fatalf("after delete: %d %s", r.status, r.body)
	}
	for _, bad := range []struct{ path, body string }{
		{"/admin/api/budgets/team/x", `{"daily_usd":1}`},
		{"/admin/api/budgets/user/alice", `{"daily_usd":-1}`},
		{"/admin/api/budgets/user/alice", `{}`},
		{"/admin/api/budgets/user/alice", `{"weekly_usd":1}`},
	} {
		if r := h.do("PUT", bad.path, bad.body, admin...); r.status != 400 {
			t.Errorf("PUT %s %s: %d %s", bad.path, bad.body, r.status, r.body)
		}
	}
}

// TestUnpricedModel: with a spend cap, a model without a price is refused
// (usage.unpriced: deny); without one, it is served at zero cost and
// logged once.
func TestUnpricedModel(t *testing.T) {
	h := newMeteredHarness(t, "    spend: {monthly_usd: 1}\n", nil)
	r := h.do("POST", "/v1/chat/completions", `{"model":"unpriced-real","messages":[]}`)
	if r.status != 403 || r.errorCode() != "model_not_priced" {
		t.Fatalf("capped: %d %s", r.status, r.body)
	}
	// The mock provider is free, priced or not.
	if r := h.do("POST", "/v1/chat/completions", `{"model":"unpriced","messages":[]}`); r.status != 200 {
		t.Fatalf("capped mock: %d %s", r.status, r.body)
	}
	up := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprint(w, `{"id":"x","object":"chat.completion","choices":[],"usage":{"prompt_tokens":100,"completion_tokens":50}}`)
	})
	h2 := newMeteredHarness(t, "", up)
	for i := 0; i < 3; i++ {
		for _, model := range []string{"unpriced-real", "unpriced"} {
			if r := h2.do("POST", "/v1/chat/completions", `{"model":"`+model+`","messages":[]}`); r.status != 200 {
				t.Fatalf("uncapped %s: %d %s", model, r.status, r.body)
			}
		}
	}
	h2.flushed(6)
	for _, g := range h2.summary(store.ByModel, store.UsageFilter{}) {
		if g.CostMicros != 0 || g.Input != 300 {
			t.Errorf("%+v", g)
		}
	}
	// Logged once for the real provider; the mock is free and never warns.
	if n := strings.Count(h2.logs.String(), "model has no price"); n != 1 {
		t.Errorf("warned %d times, want once", n)
	}
}

// TestMetricsScrape: /metrics needs an admin key on the API listener and
// reports requests, tokens, cost, rejections, streams and the usage queue,
// with no credential or user id in it.
func TestMetricsScrape(t *testing.T) {
	h := newMeteredHarness(t, "    rpm: 3\n", nil)
	_, key := createKey(t, h, auth.CreateOptions{Name: "m", Plan: "metered", User: "user-CANARY-metrics"})
	for i := 0; i < 4; i++ {
		h.do("POST", "/v1/chat/completions", `{"model":"fast","stream":true,"messages":[]}`, bearer(key)...)
	}
	h.do("POST", "/v1/chat/completions", `{"model":"no-such-model-CANARY","messages":[]}`)
	h.flushed(3)
	// Open by default, as Prometheus expects; admin keys only when asked.
	r := h.do("GET", "/metrics", "", "Authorization", "")
	if r.status != 200 {
		t.Fatalf("metrics: %d %s", r.status, r.body)
	}
	for _, want := range []string{
		`keyward_requests_total{code="",model="fast",provider="mock",route="chat",status="200"} 3`,
		`keyward_requests_total{code="rate_limited_requests",model="fast",provider="",route="chat",status="429"} 1`,
		`keyward_requests_total{code="model_not_found",model="",provider="",route="chat",status="400"} 1`,
		`keyward_tokens_total{kind="input",model="fast",provider="mock"} 300`,
		`keyward_tokens_total{kind="output",model="fast",provider="mock"} 150`,
		`keyward_cost_usd_total{model="fast",provider="mock"} 0.0006`,
		`keyward_limit_rejections_total{limit="rpm"} 1`,
		`keyward_active_streams 0`,
		`keyward_usage_queue_depth 0`,
		`keyward_usage_records_dropped_total 0`,
		`keyward_upstream_latency_seconds_count{provider="mock",route="chat"} 3`,
		`keyward_added_latency_seconds_count{route="chat"} 3`,
	} {
		if !strings.Contains(r.body, want) {
			t.Errorf("scrape lacks %s", want)
		}
	}
	if strings.Contains(r.body, "CANARY") || strings.Contains(r.body, key) {
		t.Error("a user id, model name from a client or key reached the metrics")
	}
	assertNoCanary(t, "metrics", r.body)

	for _, tt := range []struct {
		metrics string
		cred    string
		want    int
	}{
		{"{require_admin_key: true}", "", 401},
		{"{require_admin_key: true}", key, 401},
		{"{require_admin_key: true}", adminCanary, 200},
		{"{disabled: true}", adminCanary, 404},
		{"{listen: \"127.0.0.1:0\"}", "", 404},
	} {
		h.writeConfig(strings.ReplaceAll(meteredConfig, "{{UPSTREAM}}", "http://127.0.0.1:1") + "    rpm: 3\nmetrics: " + tt.metrics + "\n")
		if err := h.gw.Reload("test"); err != nil {
			t.Fatal(err)
		}
		hdr := []string{"Authorization", ""}
		if tt.cred != "" {
			hdr = bearer(tt.cred)
		}
		if r := h.do("GET", "/metrics", "", hdr...); r.status != tt.want {
			t.Errorf("metrics %s with %q: %d, want %d", tt.metrics, tt.cred, r.status, tt.want)
		}
	}
}

func TestIPSubject(t *testing.T) {
	for in, want := range map[string]string{
		"203.0.113.9":          "203.0.113.9",
		"2001:db8:1:2:3:4:5:6": "2001:db8:1:2::/64",
		"2001:db8:1:2:ffff::1": "2001:db8:1:2::/64",
		"::ffff:198.51.100.7":  "::ffff:198.51.100.7",
		"not-an-address":       "not-an-address",
	} {
		if got := ipSubject(in); got != want {
			t.Errorf("ipSubject(%s) = %s, want %s", in, got, want)
		}
	}
}

// TestClientIP: X-Forwarded-For counts only when the connection comes from
// a trusted proxy, read from the right.
func TestClientIP(t *testing.T) {
	h := newMeteredHarness(t, "", nil)
	snap := *h.gw.Current()
	for _, pf := range []string{"10.0.0.0/8", "127.0.0.1"} {
		p, _ := config.ParsePrefix(pf)
		snap.TrustedProxies = append(snap.TrustedProxies, p)
	}
	tests := []struct {
		remote, xff, want string
		trusted           bool
	}{
		{"203.0.113.9:1234", "198.51.100.1", "203.0.113.9", true},                   // not from a proxy: XFF ignored
		{"127.0.0.1:1234", "198.51.100.1", "198.51.100.1", true},                    // from the proxy
		{"127.0.0.1:1234", "6.6.6.6, 198.51.100.1, 10.1.2.3", "198.51.100.1", true}, // spoofed left part ignored
		{"127.0.0.1:1234", "10.1.2.3", "127.0.0.1", true},                           // only proxies: the connection
		{"127.0.0.1:1234", "not-an-ip", "127.0.0.1", true},
		{"127.0.0.1:1234", "::ffff:198.51.100.7", "198.51.100.7", true},
		{"127.0.0.1:1234", "198.51.100.1", "127.0.0.1", false}, // no trusted proxies configured
	}
	for _, tt := range tests {
		r, _ := http.NewRequest("GET", "/", nil)
		r.RemoteAddr = tt.remote
		if tt.xff != "" {
			r.Header.Set("X-Forwarded-For", tt.xff)
		}
		s := snap
		if !tt.trusted {
			s.TrustedProxies = nil
		}
		r = r.WithContext(withInfo(r.Context(), &reqInfo{snap: &s}))
		if got := clientIP(r); got != tt.want {
			t.Errorf("clientIP(%s, XFF %q) = %s, want %s", tt.remote, tt.xff, got, tt.want)
		}
	}
}

// TestCanarySweepLimits extends the canary sweep to the limit, budget,
// usage and metrics paths: each refusal and report is provoked with the
// canary credentials, and none of them (nor the provider key, the pepper
// or the admin key) may appear in a response, a header or a log line.
func TestCanarySweepLimits(t *testing.T) {
	h := newMeteredHarness(t, "    rpm: 4\n    tpm: 3000\n    max_output_tokens: 2900\n    concurrency: 1\n    spend: {daily_usd: 0.05}\n", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// An evil upstream echoes the key it got.
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("X-Echo", r.Header.Get("Authorization"))
		fmt.Fprintf(w, `{"id":"x","choices":[],"usage":{"prompt_tokens":5,"completion_tokens":5},"echo":%q}`, r.Header.Get("Authorization"))
	}))
	_, vk := createKey(t, h, auth.CreateOptions{Name: "sweeper", Plan: "metered", User: "sweep-user"})
	secrets := append([]string{vk, adminCanary, meteredPepper}, canaries...)
	var responses []string
	note := func(r result) { responses = append(responses, fmt.Sprint(r.status, r.header, r.body)) }
	// Hold the concurrency slot of the client key with a slow stream.
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, "POST", h.srv.URL+"/v1/chat/completions", strings.NewReader(`{"model":"slow","stream":true,"max_tokens":5,"messages":[]}`))
	req.Header.Set("Authorization", "Bearer "+canaryClient)
	req.Header.Set("Content-Type", "application/json")
	resp, err := h.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	codes := map[string]bool{}
	for _, c := range []struct {
		cred, path, body string
	}{
		{canaryClient, "/v1/chat/completions", `{"model":"fast","max_tokens":5,"messages":[]}`},                                                    // concurrency
		{vk, "/v1/chat/completions", `{"model":"unpriced-real","messages":[]}`},                                                                    // unpriced under a cap
		{vk, "/v1/responses", `{"model":"fast","input":"x","previous_response_id":"resp_1"}`},                                                      // unbounded under a cap
		{vk, "/v1/chat/completions", `{"model":"fast","messages":[{"role":"user","content":"` + strings.Repeat("x", 60_000) + `"}]}`},              // over the tpm burst
		{vk, "/v1/chat/completions", `{"model":"fast","messages":[{"role":"user","content":[{"type":"fil\u0065","file":{"file_id":"file-1"}}]}]}`}, // over the budget reservation
		{vk, "/v1/chat/completions", `{"model":"real","messages":[]}`},
		{vk, "/v1/chat/completions", `{"model":"real","stream":true,"messages":[]}`},
		{vk, "/v1/chat/completions", `{"model":"fast","max_tokens":5,"messages":[]}`},
		{vk, "/v1/chat/completions", `{"model":"fast","max_tokens":5,"messages":[]}`},
		{vk, "/v1/chat/completions", `{"model":"fast","max_tokens":5,"messages":[]}`},
		{vk, "/v1/chat/completions", `{"model":"fast","max_tokens":5,"messages":[]}`}, // rpm
		{vk, "/v1/messages", `{"model":"fast","max_tokens":5,"messages":[]}`},
	} {
		r := h.do("POST", c.path, c.body, bearer(c.cred)...)
		codes[r.errorCode()] = true
		note(r)
	}
	cancel()
	resp.Body.Close()
	for _, want := range []string{"rate_limited_concurrency", "model_not_priced", "insufficient_quota", "rate_limited_requests", "cost_not_bounded", "tokens_over_limit"} {
		if !codes[want] {
			t.Errorf("the sweep did not provoke %s (got %v)", want, codes)
		}
	}
	// tpm: a fresh key, a request estimated above what is left.
	_, vk2 := createKey(t, h, auth.CreateOptions{Name: "sweeper2", Plan: "metered"})
	secrets = append(secrets, vk2)
	h.do("POST", "/v1/chat/completions", `{"model":"fast","max_tokens":2980,"messages":[]}`, bearer(vk2)...)
	r := h.do("POST", "/v1/chat/completions", `{"model":"fast","max_tokens":2980,"messages":[]}`, bearer(vk2)...)
	if r.errorCode() != "rate_limited_tokens" {
		t.Errorf("tpm not provoked: %d %s", r.status, r.body)
	}
	note(r)
	h.flushed(1)
	for _, p := range []string{"/metrics", "/admin/api/usage?by=key", "/admin/api/usage?by=user&format=csv", "/admin/api/budgets"} {
		for _, cred := range []string{adminCanary, vk, canaryClient} {
			note(h.do("GET", p, "", bearer(cred)...))
		}
	}
	// An operator who names a key by the key itself is refused, and the
	// key is not echoed.
	r = h.do("PUT", "/admin/api/budgets/key/"+vk, `{"daily_usd":1}`, bearer(adminCanary)...)
	if r.status != 400 {
		t.Errorf("a budget named by the key itself: %d %s", r.status, r.body)
	}
	note(r)
	time.Sleep(20 * time.Millisecond)
	all := strings.Join(responses, "\n") + h.logs.String()
	for _, k := range secrets {
		if strings.Contains(all, k) {
			t.Errorf("a canary (%.10s…) leaked in a response or log line", k)
		}
	}
}

// sseUpstream streams the given events (data lines), pausing between them,
// and then either ends or hangs until the request is cancelled.
func sseUpstream(events []string, pause time.Duration, hang bool) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		for _, ev := range events {
			io.WriteString(w, ev+"\n\n")
			w.(http.Flusher).Flush()
			select {
			case <-time.After(pause):
			case <-r.Context().Done():
				return
			}
		}
		if hang {
			<-r.Context().Done()
		}
	})
}

func chatChunk(text string) string {
	return `data: {"id":"c","object":"chat.completion.chunk","choices":[{"index":0,"delta":{"content":"` + text + `"}}]}`
}

// TestStreamsNeverFree: a stream is charged whenever the provider produced
// output — when it ends without reporting usage, when keyward cuts it off,
// when it fails after text was sent — and its usage is read from a
// response.failed event too.
func TestStreamsNeverFree(t *testing.T) {
	text := []string{chatChunk("Hello"), chatChunk(" there"), chatChunk(", friend")}
	tests := []struct {
		name     string
		extra    string // top-level configuration
		up       http.Handler
		path     string
		body     string
		metered  string
		minOut   int64
		exactOut int64
	}{
		{"complete stream without usage", "", sseUpstream(append(text, "data: [DONE]"), 0, false),
			"/v1/chat/completions", `{"model":"real","stream":true,"messages":[]}`, "estimated", 3, 0},
		{"cut by the request timeout", "timeouts: {request: 1s}\n", sseUpstream(append(text, text...), 100*time.Millisecond, true),
			"/v1/chat/completions", `{"model":"real","stream":true,"messages":[]}`, "estimated", 6, 0},
		{"provider error after text", "", sseUpstream(append(text, `data: {"error":{"message":"overloaded","type":"server_error"}}`), 0, false),
			"/v1/chat/completions", `{"model":"real","stream":true,"messages":[]}`, "estimated", 3, 0},
		{"response.failed with usage", "", sseUpstream([]string{
			"event: response.created\ndata: {\"type\":\"response.created\",\"response\":{\"id\":\"r\",\"status\":\"in_progress\",\"usage\":null}}",
			"event: response.output_text.delta\ndata: {\"type\":\"response.output_text.delta\",\"delta\":\"Par\"}",
			"event: response.failed\ndata: {\"type\":\"response.failed\",\"response\":{\"id\":\"r\",\"status\":\"failed\",\"error\":{\"code\":\"server_error\",\"message\":\"x\"},\"usage\":{\"input_tokens\":40,\"output_tokens\":17}}}",
		}, 0, false),
			"/v1/responses", `{"model":"real","stream":true,"input":"hi"}`, "reported", 0, 17},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newMeteredHarness(t, tt.extra, tt.up)
			r := h.do("POST", tt.path, tt.body)
			if r.status != 200 {
				t.Fatalf("%d %s", r.status, r.body)
			}
			h.flushed(1)
			rec := h.record(r.header.Get("X-Request-Id"))
			if rec.Metered != tt.metered || rec.CostMicros <= 0 || rec.Input <= 0 || rec.Output < tt.minOut || (tt.exactOut > 0 && rec.Output != tt.exactOut) {
				t.Fatalf("record %+v", rec)
			}
			// The estimate's warnings and the stream-error lines join the
			// canary sweep: no provider key in the log.
			assertNoCanary(t, "log", h.logs.String())
			assertNoCanary(t, "response", r.body+fmt.Sprint(r.header))
		})
	}
	// An error before any output costs nothing.
	h := newMeteredHarness(t, "", sseUpstream([]string{`data: {"error":{"message":"overloaded","type":"server_error"}}`}, 0, false))
	h.do("POST", "/v1/chat/completions", `{"model":"real","stream":true,"messages":[]}`)
	h.flushed(1)
	if g := h.summary(store.ByKey, store.UsageFilter{}); len(g) != 1 || g[0].CostMicros != 0 {
		t.Fatalf("an error before any output was charged: %+v", g)
	}
}

// TestDisconnectBeforeHeadersCharged: a client that leaves while the
// provider works on its request is charged the worst case (the provider
// bills it), never refunded.
func TestDisconnectBeforeHeadersCharged(t *testing.T) {
	up := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-time.After(time.Second):
		case <-r.Context().Done():
		}
	})
	h := newMeteredHarness(t, "", up)
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	r := h.doCtx(ctx, "POST", "/v1/chat/completions", `{"model":"real","max_tokens":300,"messages":[]}`)
	if r.status != -1 {
		t.Fatalf("the client should have given up: %d", r.status)
	}
	h.flushed(1)
	recs, err := h.db.ListUsage(context.Background(), store.UsageFilter{}, 10)
	if err != nil || len(recs) != 1 {
		t.Fatalf("%v %v", recs, err)
	}
	if rec := recs[0]; rec.Metered != "estimated" || rec.Output != 300 || rec.Input <= 0 {
		t.Fatalf("record %+v", rec)
	}
}

// TestUnboundedCostUnderCap: under a spend cap, a request whose cost the
// provider decides from state keyward never sees is refused, unless the
// plan allows it; without a cap it goes through.
func TestUnboundedCostUnderCap(t *testing.T) {
	bodies := []struct{ path, body, what string }{
		{"/v1/responses", `{"model":"fast","input":"and then?","previous_response_id":"resp_123"}`, "previous_response_id"},
		{"/v1/responses", `{"model":"fast","input":"hi","conversation":"conv_1"}`, "conversation"},
		{"/v1/responses", `{"model":"fast","prompt":{"id":"pmpt_1"}}`, "prompt"},
		{"/v1/responses", `{"model":"fast","input":"hi","background":true}`, "background"},
		{"/v1/responses", `{"model":"fast","input":"news?","tools":[{"type":"web_search"}]}`, "web_search"},
		{"/v1/messages", `{"model":"fast","max_tokens":10,"messages":[],"tools":[{"type":"web_fetch_20250910","name":"web_fetch"}]}`, "web_fetch_20250910"},
	}
	capped := newMeteredHarness(t, "    spend: {daily_usd: 5}\n", nil)
	allowed := newMeteredHarness(t, "    spend: {daily_usd: 5}\n    allow_unbounded: true\n", nil)
	free := newMeteredHarness(t, "", nil)
	for _, b := range bodies {
		r := capped.do("POST", b.path, b.body)
		if r.status != 403 || r.errorCode() != "cost_not_bounded" || !strings.Contains(r.body, b.what) {
			t.Errorf("capped %s: %d %s", b.what, r.status, r.body)
		}
		if r := allowed.do("POST", b.path, b.body); r.status != 200 {
			t.Errorf("allow_unbounded %s: %d %s", b.what, r.status, r.body)
		}
		if r := free.do("POST", b.path, b.body); r.status != 200 {
			t.Errorf("no cap %s: %d %s", b.what, r.status, r.body)
		}
	}
	// Ordinary requests, function tools and background:false are bounded.
	for _, body := range []string{
		`{"model":"fast","input":"hi","background":false,"tools":[{"type":"function","name":"f","parameters":{}}]}`,
		`{"model":"fast","input":"say \"previous_response_id\" and web_search"}`,
	} {
		if r := capped.do("POST", "/v1/responses", body); r.status != 200 {
			t.Errorf("bounded request refused: %d %s", r.status, r.body)
		}
	}
}

// TestDisconnectFromReasoningCharged: a client that asked for reasoning
// and left mid-stream is charged its whole output cap: the hidden
// reasoning was spent before any text streamed.
func TestDisconnectFromReasoningCharged(t *testing.T) {
	h := newMeteredHarness(t, "", nil)
	id := leaveAfterWords(t, h, `{"model":"slow","stream":true,"reasoning_effort":"high","max_completion_tokens":700,"messages":[]}`)
	h.flushed(1)
	if rec := h.record(id); rec.Metered != "estimated" || rec.Output != 700 {
		t.Fatalf("record %+v", rec)
	}
}

// leaveAfterWords streams a chat request and hangs up after three text
// events; it returns the request's id.
func leaveAfterWords(t *testing.T, h *harness, body string) string {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "POST", h.srv.URL+"/v1/chat/completions", strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+canaryClient)
	req.Header.Set("Content-Type", "application/json")
	resp, err := h.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(resp.Body)
	for n := 0; n < 3 && sc.Scan(); {
		if strings.Contains(sc.Text(), "content") {
			n++
		}
	}
	cancel()
	resp.Body.Close()
	return resp.Header.Get("X-Request-Id")
}
