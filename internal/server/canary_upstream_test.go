package server

import (
	"bytes"
	"compress/flate"
	"compress/gzip"
	"compress/zlib"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/keyward/keyward/internal/redact/leakcheck"
)

// pieceLen is the shortest piece of a secret the sweeps look for (the
// scrubber's secret.PieceLen).
const pieceLen = 24

// leakChecks counts the texts the canary sweeps examined, for the report.
var leakChecks atomic.Int64

// canaryFinder finds any 24-byte piece of the standard canaries, raw or
// encoded.
var canaryFinder = sync.OnceValue(func() *leakcheck.Finder { return leakcheck.New(pieceLen, canaries...) })

// assertNoPiece fails if f finds a piece of a secret in any of texts.
func assertNoPiece(t *testing.T, f *leakcheck.Finder, where string, texts ...string) {
	t.Helper()
	for _, s := range texts {
		leakChecks.Add(1)
		if l, ok := f.Find(s); ok {
			t.Errorf("%s: %s leaked:\n%s", where, l, truncateForLog(s))
		}
	}
}

// tricks are the ways a hostile upstream tries to get a secret past
// keyward. The model name picks one.
var tricks = []string{
	"split-10", "split-1", "split-23", "lines", "interleave",
	"escaped-dash", "escaped-all", "b64-0", "b64-1", "b64-2", "b64url-1", "pct", "pct-json", "hex",
	"ident", "ident-mid", "reqid",
	"deflate", "deflate-raw", "gzip2", "gzip-inner", "br", "bomb",
}

// victims are the secrets the hostile upstream echoes: the key it received
// and every other secret the gateway loads (the test tells it; a real
// upstream could learn them only through a leak elsewhere, which is the
// point of covering them too).
func victims(received string, others []string) []string {
	return append([]string{received}, others...)
}

// encodeFor spells a secret the way a trick does.
func encodeFor(trick, v string) string {
	switch trick {
	case "escaped-dash":
		return strings.NewReplacer("-", `\u002d`, "_", `\u005F`).Replace(v)
	case "escaped-all":
		var b strings.Builder
		for _, r := range v {
			fmt.Fprintf(&b, `\u%04x`, r)
		}
		return b.String()
	case "b64-0":
		return base64.StdEncoding.EncodeToString([]byte(v))
	case "b64-1":
		return base64.StdEncoding.EncodeToString([]byte("\x01" + v))
	case "b64-2":
		return base64.StdEncoding.EncodeToString([]byte("\x01\x02" + v))
	case "b64url-1":
		return base64.RawURLEncoding.EncodeToString([]byte("\xfb" + v))
	case "pct", "pct-json":
		var b strings.Builder
		for i := range len(v) {
			if trick == "pct-json" {
				fmt.Fprintf(&b, `\u0025%02X`, v[i])
			} else {
				fmt.Fprintf(&b, "%%%02X", v[i])
			}
		}
		return b.String()
	case "hex":
		return hex.EncodeToString([]byte(v))
	}
	return v
}

// jsonString quotes s for JSON unless it already holds the escapes a trick
// wrote on purpose.
func jsonString(trick, s string) string {
	if strings.HasPrefix(trick, "escaped") || trick == "pct-json" {
		return `"` + s + `"`
	}
	b, _ := json.Marshal(s)
	return string(b)
}

func cutInto(s string, n int) []string {
	var out []string
	for len(s) > n {
		out = append(out, s[:n])
		s = s[n:]
	}
	return append(out, s)
}

// routeKind names the API an upstream request is for.
func routeKind(path string) string {
	switch {
	case strings.HasSuffix(path, "/count_tokens"):
		return "count_tokens"
	case strings.HasSuffix(path, "/messages"):
		return "messages"
	case strings.HasSuffix(path, "/responses"):
		return "responses"
	case strings.HasSuffix(path, "/embeddings"):
		return "embeddings"
	}
	return "chat"
}

// hostileJSON is a success answer of the route whose strings at one path
// are texts (quoted already), in order.
func hostileJSON(kind string, texts []string) string {
	var parts []string
	switch kind {
	case "chat":
		for i, t := range texts {
			parts = append(parts, fmt.Sprintf(`{"index":%d,"message":{"role":"assistant","content":%s},"finish_reason":"stop"}`, i, t))
		}
		return `{"id":"c1","object":"chat.completion","model":"m","choices":[` + strings.Join(parts, ",") + `],"usage":{"prompt_tokens":3,"completion_tokens":2,"total_tokens":5}}`
	case "responses":
		for _, t := range texts {
			parts = append(parts, `{"type":"output_text","text":`+t+`}`)
		}
		return `{"id":"resp_1","object":"response","status":"completed","model":"m","output":[{"type":"message","role":"assistant","content":[` + strings.Join(parts, ",") + `]}],"usage":{"input_tokens":3,"output_tokens":2,"total_tokens":5}}`
	case "embeddings":
		for i, t := range texts {
			parts = append(parts, fmt.Sprintf(`{"object":%s,"index":%d,"embedding":[0.1]}`, t, i))
		}
		return `{"object":"list","data":[` + strings.Join(parts, ",") + `],"model":"m","usage":{"prompt_tokens":1,"total_tokens":1}}`
	case "messages":
		for _, t := range texts {
			parts = append(parts, `{"type":"text","text":`+t+`}`)
		}
		return `{"id":"msg_1","type":"message","role":"assistant","model":"m","content":[` + strings.Join(parts, ",") + `],"stop_reason":"end_turn","usage":{"input_tokens":3,"output_tokens":2}}`
	}
	return `{"input_tokens":3,"echo":[` + strings.Join(texts, ",") + `]}`
}

// hostileStream is the route's event stream with one text delta per text
// (quoted already); index picks the choice, block or output item of each.
func hostileStream(kind string, texts []string, index func(i int) int) []string {
	var evs []string
	switch kind {
	case "messages":
		evs = append(evs, "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"id\":\"msg_1\",\"type\":\"message\",\"role\":\"assistant\",\"model\":\"m\",\"content\":[],\"usage\":{\"input_tokens\":3,\"output_tokens\":1}}}\n\n",
			"event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":0,\"content_block\":{\"type\":\"text\",\"text\":\"\"}}\n\n")
		for i, t := range texts {
			evs = append(evs, fmt.Sprintf("event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":%d,\"delta\":{\"type\":\"text_delta\",\"text\":%s}}\n\n", index(i), t))
		}
		return append(evs, "event: content_block_stop\ndata: {\"type\":\"content_block_stop\",\"index\":0}\n\n",
			"event: message_delta\ndata: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"end_turn\"},\"usage\":{\"output_tokens\":2}}\n\n",
			"event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n")
	case "responses":
		evs = append(evs, "event: response.created\ndata: {\"type\":\"response.created\",\"sequence_number\":0,\"response\":{\"id\":\"resp_1\",\"status\":\"in_progress\"}}\n\n")
		for i, t := range texts {
			evs = append(evs, fmt.Sprintf("event: response.output_text.delta\ndata: {\"type\":\"response.output_text.delta\",\"sequence_number\":%d,\"output_index\":%d,\"content_index\":0,\"delta\":%s}\n\n", i+1, index(i), t))
		}
		return append(evs, "event: response.completed\ndata: {\"type\":\"response.completed\",\"sequence_number\":999,\"response\":{\"id\":\"resp_1\",\"status\":\"completed\",\"usage\":{\"input_tokens\":3,\"output_tokens\":2,\"total_tokens\":5}}}\n\n")
	}
	evs = append(evs, "data: {\"id\":\"c1\",\"object\":\"chat.completion.chunk\",\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"\"}}]}\n\n")
	for i, t := range texts {
		evs = append(evs, fmt.Sprintf("data: {\"id\":\"c1\",\"object\":\"chat.completion.chunk\",\"choices\":[{\"index\":%d,\"delta\":{\"content\":%s}}]}\n\n", index(i), t))
	}
	return append(evs, "data: {\"id\":\"c1\",\"object\":\"chat.completion.chunk\",\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"stop\"}],\"usage\":{\"prompt_tokens\":3,\"completion_tokens\":2,\"total_tokens\":5}}\n\n", "data: [DONE]\n\n")
}

// streamErrorEvent is the route's error event, its identifiers slices of
// v and its message v itself.
func streamErrorEvent(kind, v string) string {
	typ, code, param := slices3(v)
	switch kind {
	case "messages":
		return fmt.Sprintf("event: error\ndata: {\"type\":\"error\",\"error\":{\"type\":%q,\"message\":%q}}\n\n", typ, v)
	case "responses":
		return fmt.Sprintf("event: error\ndata: {\"type\":\"error\",\"code\":%q,\"message\":%q,\"param\":%q}\n\n", code, v, param)
	}
	return fmt.Sprintf("data: {\"error\":{\"message\":%q,\"type\":%q,\"code\":%q,\"param\":%q}}\n\n", v, typ, code, param)
}

// slices3 cuts what follows a secret's public prefix into slices of 64
// characters, as the adversarial review did: together they are the secret.
func slices3(v string) (a, b, c string) {
	rest := v
	if i := strings.LastIndexAny(v[:min(len(v), 16)], "-_"); i >= 0 {
		rest = v[i+1:]
	}
	parts := append(cutInto(rest, 64), "", "")
	return parts[0], parts[1], parts[2]
}

var bombOnce = sync.OnceValue(func() []byte {
	var b bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&b, gzip.BestCompression)
	chunk := bytes.Repeat([]byte(" "), 1<<20)
	zw.Write([]byte(`{"id":"c1","object":"chat.completion","choices":[],"pad":"`))
	for range 40 {
		zw.Write(chunk)
	}
	zw.Close()
	return b.Bytes()
})

// hostileUpstream is a fake provider that tries every trick above on
// every secret it knows of, on every route, streamed or not.
func hostileUpstream(others []string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		key := r.Header.Get("X-Api-Key") + r.Header.Get("Api-Key") + strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")
		body, _ := io.ReadAll(r.Body)
		var req struct {
			Model  string `json:"model"`
			Stream bool   `json:"stream"`
		}
		_ = json.Unmarshal(body, &req)
		trick, kind := req.Model, routeKind(r.URL.Path)
		vs := victims(key, others)
		h := w.Header()

		// The texts the answer carries, and how stream deltas are indexed.
		var texts []string
		index := func(int) int { return 0 }
		for _, v := range vs {
			switch trick {
			case "split-10", "split-1", "split-23":
				n := map[string]int{"split-10": 10, "split-1": 1, "split-23": 23}[trick]
				for _, p := range cutInto("key: "+v+".", n) {
					texts = append(texts, jsonString(trick, p))
				}
			case "interleave":
				for _, p := range cutInto(v, 9) {
					texts = append(texts, jsonString(trick, p), jsonString(trick, "x"))
				}
				index = func(i int) int { return i % 2 }
			default:
				texts = append(texts, jsonString(trick, "here: "+encodeFor(trick, v)+" :end"))
			}
		}

		switch trick {
		case "ident":
			h.Set("Content-Type", "application/json")
			if req.Stream {
				h.Set("Content-Type", "text/event-stream")
				io.WriteString(w, streamErrorEvent(kind, vs[0]))
				return
			}
			typ, code, param := slices3(vs[0])
			w.WriteHeader(http.StatusBadRequest)
			if kind == "messages" || kind == "count_tokens" {
				fmt.Fprintf(w, `{"type":"error","error":{"type":%q,"message":%q}}`, typ, strings.Join(vs, " "))
				return
			}
			fmt.Fprintf(w, `{"error":{"message":%q,"type":%q,"code":%q,"param":%q}}`, strings.Join(vs, " "), typ, code, param)
			return
		case "reqid":
			h.Set("X-Request-Id", "req_"+vs[0][8:])
			h.Set("Request-Id", vs[0])
			h.Set("Apim-Request-Id", strings.ReplaceAll(vs[0][len(vs[0])-30:], "_", "-"))
			h.Set("Trailer", "X-Request-Id-Trailer")
			texts = []string{`"hi"`}
		}

		var payload []byte
		if req.Stream {
			h.Set("Content-Type", "text/event-stream")
			evs := hostileStream(kind, texts, index)
			switch trick {
			case "lines":
				// One event whose data runs over two lines, cut inside
				// each secret.
				var b strings.Builder
				for _, v := range vs {
					fmt.Fprintf(&b, "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"%s\ndata: %s\"}}]}\n\n", v[:len(v)/2], v[len(v)/2:])
				}
				evs = append([]string{evs[0], b.String()}, evs[1:]...)
			case "ident-mid":
				evs = append(evs[:2:2], streamErrorEvent(kind, vs[0]))
			}
			payload = []byte(strings.Join(evs, ""))
		} else {
			h.Set("Content-Type", "application/json")
			payload = []byte(hostileJSON(kind, texts))
		}

		switch trick {
		case "deflate", "deflate-raw", "gzip2", "gzip-inner", "br":
			var b bytes.Buffer
			switch trick {
			case "deflate":
				zw := zlib.NewWriter(&b)
				zw.Write(payload)
				zw.Close()
				h.Set("Content-Encoding", "deflate")
			case "deflate-raw":
				zw, _ := flate.NewWriter(&b, flate.DefaultCompression)
				zw.Write(payload)
				zw.Close()
				h.Set("Content-Encoding", "deflate")
			case "gzip2", "gzip-inner":
				b.Write(gzipped(gzipped(payload)))
				h.Set("Content-Encoding", "gzip, gzip")
				if trick == "gzip-inner" {
					h.Set("Content-Encoding", "gzip") // the inner layer unannounced
				}
			case "br":
				b.Write(gzipped(payload)) // claims brotli: keyward cannot read it
				h.Set("Content-Encoding", "br")
			}
			payload = b.Bytes()
		case "bomb":
			h.Set("Content-Encoding", "gzip")
			if req.Stream {
				h.Set("Content-Type", "text/event-stream")
			}
			payload = bombOnce()
		}
		w.Write(payload)
		if trick == "reqid" {
			h.Set("X-Request-Id-Trailer", vs[0])
		}
	})
}

func gzipped(b []byte) []byte {
	var out bytes.Buffer
	zw := gzip.NewWriter(&out)
	zw.Write(b)
	zw.Close()
	return out.Bytes()
}

// hostileResult is a whole response with its trailers.
type hostileResult struct {
	result
	trailer http.Header
}

func (h *harness) doTrailers(path, body string) hostileResult {
	h.t.Helper()
	req, _ := http.NewRequest("POST", h.srv.URL+path, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+canaryClient)
	req.Header.Set("Content-Type", "application/json")
	resp, err := h.srv.Client().Do(req)
	if err != nil {
		return hostileResult{result: result{status: -1, body: err.Error()}}
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return hostileResult{result{resp.StatusCode, resp.Header, string(b)}, resp.Trailer}
}

// TestCanarySweepHostileUpstream drives every route, streamed and not,
// through an upstream that tries each trick on every secret the gateway
// loads, and looks for any 24-character piece of any of them — raw,
// JSON-escaped, percent-encoded, base64 at each alignment or hex, and as a
// client joining a stream's deltas or a document's strings would read it
// — in every response body, header, trailer, stream and log line.
func TestCanarySweepHostileUpstream(t *testing.T) {
	pepper := "pepper-CANARY-" + strings.Repeat("h0s", 9)
	admin := "admin-CANARY-" + strings.Repeat("4dm", 9)
	jwtSecret := "jwtsecret-CANARY-" + strings.Repeat("jw5", 10)
	signing := signingPEM(t)
	pemBody := strings.Split(signing, "\n")[1]
	others := []string{canaryClient, pepper, admin, jwtSecret, pemBody}
	secrets := append([]string{pepper, admin, jwtSecret, signing}, canaries...)
	finder := leakcheck.New(pieceLen, secrets...)

	var cfg strings.Builder
	cfg.WriteString(`listen: 127.0.0.1:0
providers:
  - {name: openai, kind: openai, base_url: "{{UPSTREAM}}/v1", keys: [env:OPENAI_KEY]}
  - {name: claude, kind: anthropic, base_url: "{{UPSTREAM}}/v1", keys: [file:anthropic.key]}
  - {name: azure, kind: azure-openai, base_url: "{{UPSTREAM}}", keys: [env:AZURE_KEY]}
clients:
  keys: [env:CLIENT_KEY]
auth:
  pepper: env:PEPPER
  admin_keys: [env:ADMIN]
  failed_per_minute: 100000
  jwt:
    - {issuer: https://app.test, audience: keyward, secret: env:JWT_SECRET, algorithms: [HS256], plan_claim: plan, default_plan: all}
  browser_tokens: {signing_key: file:signing.pem}
plans:
  - {name: all}
timeouts: {request: 5s, stream_idle: 2s}
retry: {max_attempts: 2, auth_cooldown: 0s, rate_limit_cooldown: 0s, max_retry_after: 0s}
models:
`)
	for _, tr := range tricks {
		fmt.Fprintf(&cfg, "  - {name: %s, targets: [{provider: openai, model: %s}]}\n", tr, tr)
		fmt.Fprintf(&cfg, "  - {name: claude-%s, targets: [{provider: claude, model: %s}]}\n", tr, tr)
		fmt.Fprintf(&cfg, "  - {name: azure-%s, targets: [{provider: azure, model: %s}]}\n", tr, tr)
	}
	env := map[string]string{"OPENAI_KEY": canaryOpenAI, "AZURE_KEY": canaryAzure, "CLIENT_KEY": canaryClient,
		"PEPPER": pepper, "ADMIN": admin, "JWT_SECRET": jwtSecret}
	h := newHarness(t, cfg.String(), env, map[string]string{"anthropic.key": canaryAnthropic + "\n", "signing.pem": signing},
		newUpstream(t, hostileUpstream(others)))

	before := leakChecks.Load()
	swept := 0
	for _, rt := range canaryRoutes {
		for _, prefix := range rt.prefixes {
			for _, stream := range []bool{false, true} {
				if stream && !rt.streams {
					continue
				}
				for _, tr := range tricks {
					if stream && tr == "gzip-inner" {
						continue // an unannounced inner coding is content: see docs/security.md
					}
					if !stream && (tr == "lines" || tr == "ident-mid" || tr == "interleave") {
						continue // stream tricks
					}
					where := fmt.Sprintf("%s %s%s stream=%v", rt.path, prefix, tr, stream)
					r := h.doTrailers(rt.path, rt.body(prefix+tr, stream))
					swept++
					texts := []string{r.body, fmt.Sprint(r.header), fmt.Sprint(r.trailer)}
					if stream {
						texts = append(texts, leakcheck.StreamText([]byte(r.body))...)
					} else {
						texts = append(texts, leakcheck.JSONText([]byte(r.body))...)
					}
					assertNoPiece(t, finder, where, texts...)
					if id := r.header.Get("Request-Id"); r.header.Get("X-Upstream-Request-Id") != "" || id != "" && id != r.header.Get("X-Request-Id") {
						t.Errorf("%s: an upstream request id was passed on: %v", where, r.header)
					}
					if r.header.Get("Content-Encoding") != "" {
						t.Errorf("%s: Content-Encoding %q reached the client", where, r.header.Get("Content-Encoding"))
					}
					checkHostileStatus(t, where, tr, stream, r.result)
				}
			}
		}
	}
	time.Sleep(50 * time.Millisecond) // let the last access log lines land
	logs := h.logs.String()
	assertNoPiece(t, finder, "logs", logs)
	for _, line := range strings.Split(logs, "\n") {
		assertNoPiece(t, finder, "log line", line)
	}
	for _, want := range []string{"upstream attempt failed", "upstream stream error", `"msg":"request"`} {
		if !strings.Contains(logs, want) {
			t.Errorf("logs lack %q — the sweep did not exercise that path", want)
		}
	}
	if swept < 180 {
		t.Errorf("only %d responses swept", swept)
	}
	t.Logf("hostile upstream sweep: %d responses, %d texts checked for pieces of %d secrets", swept, leakChecks.Load()-before, len(secrets))
}

// checkHostileStatus asserts the answer each trick must get, so the sweep
// proves it went down the path it names.
func checkHostileStatus(t *testing.T, where, trick string, stream bool, r result) {
	t.Helper()
	switch trick {
	case "ident":
		want := 400
		if stream {
			want = 502 // a stream whose first event is an error
		}
		if r.status != want {
			t.Errorf("%s: status %d, want %d: %s", where, r.status, want, r.body)
		}
		if !stream && !strings.Contains(r.body, "(status 400).") {
			t.Errorf("%s: upstream identifiers in the message: %s", where, r.body)
		}
	case "br", "gzip-inner":
		if r.status != 502 {
			t.Errorf("%s: status %d, want 502: %s", where, r.status, r.body)
		}
	case "bomb":
		// Refused before the first event, or cut with keyward's error.
		if stream && (r.status != 502 && r.status != 200 || !strings.Contains(r.body, "upstream_error")) {
			t.Errorf("%s: a bomb must end the stream with keyward's error: %d %s", where, r.status, truncateForLog(r.body))
		}
	case "ident-mid":
		if r.status != 200 || !strings.Contains(r.body, "upstream_error") {
			t.Errorf("%s: %d %s", where, r.status, r.body)
		}
	case "reqid":
		if r.status != 200 {
			t.Errorf("%s: status %d: %s", where, r.status, r.body)
		}
	default:
		if r.status != 200 {
			t.Errorf("%s: status %d: %s", where, r.status, truncateForLog(r.body))
		} else if !strings.Contains(r.body, "[REDACTED]") {
			t.Errorf("%s: the echoed secrets were not replaced: %s", where, truncateForLog(r.body))
		}
	}
}
