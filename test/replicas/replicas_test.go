package replicas

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// chat is a small chat request for the mock ("fast"); stream makes it a
// streaming one.
func chat(stream bool) string {
	return fmt.Sprintf(`{"model":"fast","stream":%t,"messages":[{"role":"user","content":"hi"}]}`, stream)
}

// TestRateLimitAcrossReplicas: 1,000 requests spread over three replicas
// against one key's limit of 300 a minute admit 300 (±1%): the GCRA in
// Redis is one limit for all three. It admits its burst (the limit) at
// once and one more each 200 ms, so the requests must be sent within
// 0.8 s: 48 at a time, round robin, on keep-alive connections (conn), to
// a mock without latency, by replicas that log warnings only (the access
// log costs them about a fifth more CPU) and have served a request of
// another key on each connection first (their first requests are slow).
// The exact allowance for the time the requests took is checked too. Not
// parallel: the figure depends on the replicas having the machine.
func TestRateLimitAcrossReplicas(t *testing.T) {
	const (
		limit    = 300
		requests = 1000
		workers  = 48
	)
	c := newCluster(t, setup{logLevel: "warn", config: fmt.Sprintf(`providers: [{name: m, kind: mock}]
models: [{name: fast, targets: [{provider: m, model: mock-fast}]}]
plans: [{name: p, rpm: %d}, {name: warm, rpm: 100000}]
`, limit)})
	// A run slower than 0.6 s lets the GCRA admit more than 1% over the
	// limit (one per 200 ms): that is the machine, not the limiter, so a
	// slow run is measured again on a fresh key, at most three times. The
	// allowance for the time taken holds on every run.
	const attempts = 3
	keys := make([]string, attempts)
	for i := range keys {
		_, keys[i] = c.createKey("p")
	}
	_, warm := c.createKey("warm")
	rs := c.start(3)
	// Each worker has a connection to each replica, opened with a request
	// of another key, so that the replicas have done once all they do for
	// a request (Redis scripts loaded, usage written) before the timed
	// ones, and with /v1/models, which counts against no limit, to fill
	// their key caches.
	conns := make([][]*conn, workers)
	for w := range conns {
		for _, r := range rs {
			cn := c.dial(r)
			reqs := [][]byte{request(http.MethodPost, r, "/v1/chat/completions", warm, chat(false))}
			for _, key := range keys {
				reqs = append(reqs, request(http.MethodGet, r, "/v1/models", key, ""))
			}
			for _, req := range reqs {
				if status, body, err := cn.do(req); err != nil || status != http.StatusOK {
					t.Fatalf("replica %s: %d %s %v", r.name, status, body, err)
				}
			}
			conns[w] = append(conns[w], cn)
		}
	}
	lo, hi := limit*99/100, limit*101/100
	for attempt, key := range keys {
		accepted, figures, ok := rateRun(t, rs, conns, key, limit, requests)
		t.Log(figures)
		if !ok {
			return
		}
		if accepted >= lo && accepted <= hi {
			return
		}
		if attempt == attempts-1 || accepted < lo {
			t.Fatalf("accepted is not %d ±1%% (%d..%d): %s", limit, lo, hi, figures)
		}
		t.Logf("the run was too slow for ±1%%; measuring again on a fresh key")
	}
}

// rateRun sends requests for key over conns, round robin over the
// replicas, and reports what was accepted; ok is false when the test
// failed (a wrong answer, more than the GCRA allows, a replica that
// admitted nothing).
func rateRun(t *testing.T, rs []*replica, conns [][]*conn, key string, limit, requests int) (accepted int, figures string, ok bool) {
	t.Helper()
	reqs := make([][]byte, len(rs))
	for i, r := range rs {
		reqs[i] = request(http.MethodPost, r, "/v1/chat/completions", key, chat(false))
	}
	type result struct {
		status int
		body   string
	}
	results := make([]result, requests)
	var next atomic.Int64
	var wg sync.WaitGroup
	start := time.Now()
	for w := range conns {
		wg.Go(func() {
			for {
				i := int(next.Add(1)) - 1
				if i >= requests {
					return
				}
				status, body, err := conns[w][i%len(rs)].do(reqs[i%len(rs)])
				if err != nil {
					body = []byte(err.Error())
				}
				results[i] = result{status, string(body)}
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)

	perReplica := make([]int, len(rs))
	for i, r := range results {
		switch {
		case r.status == http.StatusOK:
			accepted++
			perReplica[i%len(rs)]++
		case r.status == http.StatusTooManyRequests && errorCode(r.body) == "rate_limited_requests":
		default:
			t.Errorf("request %d on replica %s: %d %s", i, rs[i%len(rs)].name, r.status, r.body)
		}
	}
	// What the GCRA may admit in the time the requests took: its burst,
	// and one more per emission interval.
	allowance := limit + int(elapsed/(time.Minute/time.Duration(limit)))
	figures = fmt.Sprintf("accepted %d of %d (A %d, B %d, C %d) in %s; the GCRA allows %d in that time",
		accepted, requests, perReplica[0], perReplica[1], perReplica[2], elapsed.Round(time.Millisecond), allowance)
	if accepted > allowance {
		t.Errorf("more than the limit allows: %s", figures)
	}
	for i, n := range perReplica {
		if n == 0 {
			t.Errorf("replica %s admitted nothing: %s", rs[i].name, figures)
		}
	}
	return accepted, figures, !t.Failed()
}

// TestSpendCapAcrossReplicas: 300 requests sent at once to three replicas
// under one daily cap of $0.01 are admitted only while the cap holds
// their worst cases (1,275 µUSD each: the body, 1,000 tokens the provider
// may add and 100 of output, at 1 and 2 µUSD a token), so the real spend
// (200 µUSD a request) stays under it; the others are refused with 429
// insufficient_quota. The real spend is what `keyward usage` reads from
// the usage records all three replicas wrote to PostgreSQL (stopping a
// replica writes those still queued).
func TestSpendCapAcrossReplicas(t *testing.T) {
	const (
		requests  = 300
		capMicros = 10_000
		cost      = 100*1 + 50*2 // µUSD: prompt and completion tokens at the configured prices
	)
	c := newCluster(t, setup{config: `providers: [{name: m, kind: mock, mock: {prompt_tokens: 100, completion_tokens: 50}}]
models: [{name: fast, targets: [{provider: m, model: mock-fast}]}]
pricing: [{model: mock-fast, input: 1, output: 2}]
plans: [{name: p, max_output_tokens: 100, spend: {daily_usd: 0.01}}]
`})
	_, key := c.createKey("p")
	rs := c.start(3)

	type result struct {
		status int
		body   string
	}
	results := make([]result, requests)
	body := chat(false)
	begin := make(chan struct{})
	var wg sync.WaitGroup
	for i := range requests {
		wg.Go(func() {
			<-begin
			resp, err := c.send(context.Background(), http.MethodPost, rs[i%len(rs)], "/v1/chat/completions", key, body)
			if err != nil {
				results[i] = result{-1, err.Error()}
				return
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			results[i] = result{resp.StatusCode, string(b)}
		})
	}
	close(begin)
	wg.Wait()
	admitted, perReplica := 0, make([]int, len(rs))
	for i, r := range results {
		switch {
		case r.status == http.StatusOK:
			admitted++
			perReplica[i%len(rs)]++
		case r.status == http.StatusTooManyRequests && errorCode(r.body) == "insufficient_quota":
		default:
			t.Errorf("request %d on replica %s: %d %s", i, rs[i%len(rs)].name, r.status, r.body)
		}
	}

	c.stop(rs...)
	var report struct {
		Data []struct {
			Requests   int64 `json:"requests"`
			CostMicros int64 `json:"cost_micros"`
		} `json:"data"`
	}
	out := c.cli("usage", "--config", c.cfg, "--by", "key", "--format", "json")
	if err := json.Unmarshal([]byte(out), &report); err != nil {
		t.Fatalf("keyward usage printed %q: %v", out, err)
	}
	var recorded, spent int64
	for _, g := range report.Data {
		recorded += g.Requests
		spent += g.CostMicros
	}
	figures := fmt.Sprintf("admitted %d of %d (A %d, B %d, C %d); keyward usage: %d requests, %d µUSD, under a cap of %d µUSD",
		admitted, requests, perReplica[0], perReplica[1], perReplica[2], recorded, spent, capMicros)
	t.Log(figures)
	if admitted < 1 || spent > capMicros {
		t.Errorf("the cap did not hold: %s", figures)
	}
	if recorded != int64(admitted) || spent != int64(admitted*cost) {
		t.Errorf("keyward usage does not sum the three replicas' records (%d µUSD a request): %s", cost, figures)
	}
}

// upstream is a provider that streams: each request gets its first event
// at once and the rest when release is closed. It counts the requests in
// progress, so a test sees what the replicas let through together.
type upstream struct {
	release chan struct{}
	mu      sync.Mutex
	now     int // requests in progress
	peak    int
	total   int
}

func (u *upstream) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	_, _ = io.Copy(io.Discard, r.Body)
	u.mu.Lock()
	u.now++
	u.total++
	u.peak = max(u.peak, u.now)
	u.mu.Unlock()
	defer func() {
		u.mu.Lock()
		u.now--
		u.mu.Unlock()
	}()
	w.Header().Set("Content-Type", "text/event-stream")
	chunk := `data: {"id":"c1","object":"chat.completion.chunk","created":1,"model":"up-model","choices":[{"index":0,"delta":%s,"finish_reason":%s}]}` + "\n\n"
	fmt.Fprintf(w, chunk, `{"role":"assistant","content":"hi"}`, "null")
	w.(http.Flusher).Flush()
	select {
	case <-u.release:
	case <-r.Context().Done():
		return
	}
	fmt.Fprintf(w, chunk, `{}`, `"stop"`)
	_, _ = io.WriteString(w, `data: {"id":"c1","object":"chat.completion.chunk","created":1,"model":"up-model","choices":[],"usage":{"prompt_tokens":5,"completion_tokens":1,"total_tokens":6}}`+"\n\n")
	_, _ = io.WriteString(w, "data: [DONE]\n\n")
}

func (u *upstream) counts() (now, peak, total int) {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.now, u.peak, u.total
}

// TestConcurrencyAcrossReplicas: a key's concurrency limit of 5 holds
// across three replicas. 30 streaming requests are sent at once, ten to
// each; the upstream holds every stream it gets until all 30 have been
// answered, so no slot is given back meanwhile: exactly 5 are admitted and
// are at the upstream together (never more), and the 25 others are
// refused with 429 rate_limited_concurrency. Then the 5 streams finish.
func TestConcurrencyAcrossReplicas(t *testing.T) {
	t.Parallel()
	const (
		limit    = 5
		requests = 30
	)
	up := &upstream{release: make(chan struct{})}
	var released sync.Once
	release := func() { released.Do(func() { close(up.release) }) }
	srv := httptest.NewServer(up)
	t.Cleanup(srv.Close)
	t.Cleanup(release) // before srv.Close, which waits for the streams
	c := newCluster(t, setup{
		env: map[string]string{"UPSTREAM_KEY": "sk-upstream-replicas-0123456789"},
		config: fmt.Sprintf(`providers: [{name: up, kind: openai-compatible, base_url: %q, keys: [env:UPSTREAM_KEY]}]
models: [{name: fast, targets: [{provider: up, model: up-model}]}]
plans: [{name: p, concurrency: %d}]
`, srv.URL+"/v1", limit)})
	_, key := c.createKey("p")
	rs := c.start(3)

	type answer struct {
		replica int
		s       *stream
		status  int
		body    string
		err     error
	}
	answers := make(chan answer, requests)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	begin := make(chan struct{})
	for i := range requests {
		go func() {
			<-begin
			s, status, body, err := c.openStream(ctx, rs[i%len(rs)], key, chat(true))
			answers <- answer{i % len(rs), s, status, body, err}
		}()
	}
	close(begin)
	var streams []*stream
	admitted := make([]int, len(rs))
	refused := 0
	for range requests {
		a := <-answers
		switch {
		case a.err != nil:
			t.Errorf("replica %s: %v", rs[a.replica].name, a.err)
		case a.status == http.StatusOK:
			streams = append(streams, a.s)
			admitted[a.replica]++
		case a.status == http.StatusTooManyRequests && errorCode(a.body) == "rate_limited_concurrency":
			refused++
		default:
			t.Errorf("replica %s: %d %s", rs[a.replica].name, a.status, a.body)
		}
	}
	now, peak, total := up.counts()
	figures := fmt.Sprintf("admitted %d (A %d, B %d, C %d), refused %d; at the upstream: %d in progress, at most %d at once, %d in all",
		len(streams), admitted[0], admitted[1], admitted[2], refused, now, peak, total)
	t.Log(figures)
	if len(streams) != limit || refused != requests-limit || now != limit || peak != limit || total != limit {
		t.Errorf("the limit of %d did not hold across the replicas: %s", limit, figures)
	}

	release()
	for _, s := range streams {
		if done, err := s.finish(); !done || err != nil {
			t.Errorf("an admitted stream did not finish: [DONE] %t, %v", done, err)
		}
	}
}

// TestRevocationReachesReplicas: a key revoked through replica A's admin
// API is refused by every replica within a second. Each replica has just
// looked the key up, so its cache holds it (until the store's change
// event drops it, or for a second without one); then each is asked until
// it refuses, and every request it accepted was sent less than a second
// after the revocation was acknowledged.
func TestRevocationReachesReplicas(t *testing.T) {
	t.Parallel()
	c := newCluster(t, setup{config: `providers: [{name: m, kind: mock}]
models: [{name: fast, targets: [{provider: m, model: mock-fast}]}]
plans: [{name: p}]
`})
	id, key := c.createKey("p")
	rs := c.start(3)
	for _, r := range rs {
		if status, body := c.do(http.MethodGet, r, "/v1/models", key, ""); status != http.StatusOK {
			t.Fatalf("replica %s before the revocation: %d %s", r.name, status, body)
		}
	}
	status, body := c.do(http.MethodPost, rs[0], "/admin/api/keys/"+id+"/revoke", c.admin, "")
	revoked := time.Now()
	if status != http.StatusOK || !strings.Contains(body, `"revoked":true`) {
		t.Fatalf("revoke through replica A's admin API: %d %s", status, body)
	}

	type seen struct {
		lastAccepted time.Duration // when the last accepted request was sent
		refused      time.Duration // when the first refusal was received
		accepted     int
	}
	got := make([]seen, len(rs))
	pending := len(rs)
	for deadline := revoked.Add(3 * time.Second); pending > 0 && time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		for i, r := range rs {
			if got[i].refused != 0 {
				continue
			}
			sent := time.Since(revoked)
			switch status, body := c.do(http.MethodGet, r, "/v1/models", key, ""); {
			case status == http.StatusOK:
				got[i].lastAccepted = sent
				got[i].accepted++
			case status == http.StatusUnauthorized && errorCode(body) == "unauthorized":
				got[i].refused = time.Since(revoked)
				pending--
			default:
				t.Fatalf("replica %s after the revocation: %d %s", r.name, status, body)
			}
		}
	}
	for i, r := range rs {
		g := got[i]
		accepted := "none"
		if g.accepted > 0 {
			accepted = fmt.Sprintf("%d, the last sent at +%s", g.accepted, g.lastAccepted.Round(time.Millisecond))
		}
		t.Logf("replica %s: requests accepted after the revocation: %s; first refusal at +%s", r.name, accepted, g.refused.Round(time.Millisecond))
		if g.refused == 0 {
			t.Errorf("replica %s still accepts the key revoked through replica A 3 s later", r.name)
		} else if g.lastAccepted >= time.Second {
			t.Errorf("replica %s accepted the revoked key %s after the revocation", r.name, g.lastAccepted.Round(time.Millisecond))
		}
		// Refused now, refused after: the refusal is not a blip.
		if status, body := c.do(http.MethodGet, r, "/v1/models", key, ""); status != http.StatusUnauthorized {
			t.Errorf("replica %s, again: %d %s", r.name, status, body)
		}
	}
}

// TestKilledReplicaFreesItsHolds: a replica killed with SIGKILL in the
// middle of streams gives nothing back itself; its concurrency slot
// (plan concurrency 1, redis.lease_ttl 2s) and its spend reservation (a
// cap one worst case fits under but not two, redis.spend_lease_ttl 1m,
// the least allowed) come back when their leases run out. While replica A
// streams, B and C refuse a second request, also once the stream has
// outlived the slot's lease TTL (A renews it); A is killed; B is asked
// every 100 ms, is refused at first and admits again, and no request sent
// later than the lease TTL after the kill was refused.
func TestKilledReplicaFreesItsHolds(t *testing.T) {
	t.Parallel()
	holds := []struct {
		name, plan, refusal string
		ttl                 time.Duration
	}{
		{"concurrency slot", "one-slot", "rate_limited_concurrency", 2 * time.Second},
		// 1,275 µUSD reserved a request (as in TestSpendCapAcrossReplicas)
		// under a cap of 2,000.
		{"spend reservation", "capped", "insufficient_quota", time.Minute},
	}
	// The mock's text has 58 characters: at most 58 chunks, here 50 over
	// 25 s, longer than the test holds them.
	c := newCluster(t, setup{
		redis: "lease_ttl: 2s, spend_lease_ttl: 1m",
		config: `providers: [{name: m, kind: mock, mock: {chunks: 50, chunk_delay: 500ms, prompt_tokens: 100, completion_tokens: 50}}]
models: [{name: fast, targets: [{provider: m, model: mock-fast}]}]
pricing: [{model: mock-fast, input: 1, output: 2}]
timeouts: {request: 50s}
plans:
  - {name: one-slot, concurrency: 1}
  - {name: capped, max_output_tokens: 100, spend: {daily_usd: 0.002}}
`})
	keys := make([]string, len(holds))
	for i, h := range holds {
		_, keys[i] = c.createKey(h.plan)
	}
	rs := c.start(3)
	a, b := rs[0], rs[1]

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	streams := make([]*stream, len(holds))
	opened := make([]time.Time, len(holds))
	for i, h := range holds {
		opened[i] = time.Now()
		s, status, body, err := c.openStream(ctx, a, keys[i], chat(true))
		if err != nil || status != http.StatusOK {
			t.Fatalf("%s: the stream on replica A: %d %s %v", h.name, status, body, err)
		}
		streams[i] = s
	}
	refusedElsewhere := func(when string) {
		t.Helper()
		for i, h := range holds {
			for _, r := range rs[1:] {
				if status, body := c.do(http.MethodPost, r, "/v1/chat/completions", keys[i], chat(false)); status != http.StatusTooManyRequests || errorCode(body) != h.refusal {
					t.Fatalf("%s: replica %s %s: %d %s, want 429 %s", h.name, r.name, when, status, body, h.refusal)
				}
			}
		}
	}
	refusedElsewhere("while A streams")
	// A live replica renews its slot: past the slot's lease TTL, B and C
	// still refuse.
	for time.Since(opened[0]) < holds[0].ttl*3/2 {
		for i, h := range holds {
			if data, err := streams[i].event(); err != nil || data == "[DONE]" {
				t.Fatalf("%s: the stream on replica A ended before the kill: %q %v", h.name, data, err)
			}
		}
	}
	refusedElsewhere("while A streams, past the slot's lease TTL")

	a.kill()
	killed := time.Now()
	for i, h := range holds {
		if done, _ := streams[i].finish(); done {
			t.Errorf("%s: the stream on the killed replica ended normally", h.name)
		}
	}

	type seen struct {
		refused     int
		lastRefused time.Duration // when the last refused request was sent
		admitted    time.Duration // when the first admission was received
	}
	got := make([]seen, len(holds))
	pending := len(holds)
	for deadline := killed.Add(time.Minute + 10*time.Second); pending > 0 && time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		for i, h := range holds {
			if got[i].admitted != 0 {
				continue
			}
			sent := time.Since(killed)
			switch status, body := c.do(http.MethodPost, b, "/v1/chat/completions", keys[i], chat(false)); {
			case status == http.StatusOK:
				got[i].admitted = time.Since(killed)
				pending--
			case status == http.StatusTooManyRequests && errorCode(body) == h.refusal:
				got[i].refused++
				got[i].lastRefused = sent
			default:
				t.Fatalf("%s: replica B after the kill: %d %s", h.name, status, body)
			}
		}
	}
	for i, h := range holds {
		g := got[i]
		t.Logf("%s (lease TTL %s, held %s before the kill): replica B refused %d requests after the kill, the last sent at +%s; admitted at +%s",
			h.name, h.ttl, killed.Sub(opened[i]).Round(time.Millisecond), g.refused, g.lastRefused.Round(time.Millisecond), g.admitted.Round(time.Millisecond))
		switch {
		case g.admitted == 0:
			t.Errorf("%s: replica B never admitted again", h.name)
		case g.refused == 0:
			t.Errorf("%s: replica B admitted at once: the killed replica's hold did not outlive it", h.name)
		case g.lastRefused >= h.ttl:
			t.Errorf("%s: replica B still refused %s after the kill, past the lease TTL of %s", h.name, g.lastRefused.Round(time.Millisecond), h.ttl)
		}
	}
}
