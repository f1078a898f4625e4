package proxy

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/keyward/keyward/internal/apierr"
	"github.com/keyward/keyward/internal/redact"
	"github.com/keyward/keyward/internal/secret"
)

// maxErrorBody bounds how much of an upstream error body is read (to log
// its type and code); the rest is discarded unread.
const maxErrorBody = 64 << 10

// failure is why one upstream attempt did not produce a response.
type failure struct {
	status     int           // upstream HTTP status; 0 for a transport error
	retryAfter time.Duration // upstream Retry-After, 0 when absent
	err        error         // transport or stream error
	kind       string        // "status", "transport", "stream", "content_type", "cooling"
	// From the upstream error body: identifiers only reach the client, the
	// message only the (redacting) log.
	errType, errCode, errParam string
	message                    string
}

// safeIdent is the shape of an error type, code or param that may be shown
// to a client: short, no spaces, nothing key-like.
var safeIdent = regexp.MustCompile(`^[A-Za-z0-9_.\[\]-]{1,64}$`)

func ident(s string, scrub *secret.Scrubber) string {
	if !safeIdent.MatchString(s) || scrub.Contains([]byte(s)) || redact.LooksLikeKey(s) {
		return ""
	}
	return s
}

// readFailure reads a non-2xx upstream response into a failure.
func readFailure(resp *http.Response, scrub *secret.Scrubber, now time.Time) *failure {
	f := &failure{status: resp.StatusCode, kind: "status", retryAfter: retryAfter(resp.Header, now)}
	b, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
	f.parseBody(b, scrub)
	return f
}

// parseBody extracts an error's type, code, param and message from an
// OpenAI- or Anthropic-shaped body (or an SSE error event's data).
func (f *failure) parseBody(b []byte, scrub *secret.Scrubber) {
	var body struct {
		Type    any             `json:"type"`
		Code    any             `json:"code"`
		Param   any             `json:"param"`
		Message any             `json:"message"`
		Error   json.RawMessage `json:"error"`
	}
	if json.Unmarshal(b, &body) != nil {
		f.message = truncate(scrub.String(string(b)), 300)
		return
	}
	var inner struct {
		Type    any `json:"type"`
		Code    any `json:"code"`
		Param   any `json:"param"`
		Message any `json:"message"`
	}
	if len(body.Error) > 0 && json.Unmarshal(body.Error, &inner) == nil {
		f.errType, f.errCode, f.errParam = str(inner.Type), str(inner.Code), str(inner.Param)
		f.message = str(inner.Message)
	} else {
		f.errType, f.errCode, f.errParam, f.message = str(body.Type), str(body.Code), str(body.Param), str(body.Message)
		if f.message == "" && len(body.Error) > 0 {
			f.message = string(body.Error)
		}
	}
	f.errType, f.errCode, f.errParam = ident(f.errType, scrub), ident(f.errCode, scrub), ident(f.errParam, scrub)
	f.message = truncate(scrub.String(f.message), 300)
}

func str(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64)
	}
	return ""
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

// retryAfter reads Retry-After-Ms or Retry-After (seconds or an HTTP date).
func retryAfter(h http.Header, now time.Time) time.Duration {
	if v := h.Get("Retry-After-Ms"); v != "" {
		if ms, err := strconv.ParseFloat(v, 64); err == nil && ms > 0 && ms < 1e9 {
			return time.Duration(ms * float64(time.Millisecond))
		}
	}
	v := strings.TrimSpace(h.Get("Retry-After"))
	if v == "" {
		return 0
	}
	if s, err := strconv.ParseFloat(v, 64); err == nil {
		if s <= 0 || s > 1e6 {
			return 0
		}
		return time.Duration(s * float64(time.Second))
	}
	if t, err := http.ParseTime(v); err == nil && t.After(now) {
		return t.Sub(now)
	}
	return 0
}

// retryable reports whether another key or target may succeed.
func (f *failure) retryable() bool {
	switch f.kind {
	case "transport", "stream", "content_type", "cooling":
		return true
	}
	switch f.status {
	case 401, 403, 408, 409, 429, 500, 502, 503, 504, 529:
		return true
	}
	return false
}

// authFailure reports whether the key itself was refused.
func (f *failure) authFailure() bool { return f.status == 401 || f.status == 403 }

// clientError maps the failure to what the client sees.
func (f *failure) clientError() (apierr.Code, string) {
	switch f.kind {
	case "transport":
		if isTimeout(f.err) {
			return apierr.UpstreamTimeout, ""
		}
		return apierr.UpstreamUnavailable, "The provider could not be reached; retry later."
	case "stream":
		return apierr.UpstreamError, "The provider failed at the start of the stream."
	case "content_type":
		return apierr.UpstreamError, "The provider returned an unexpected response."
	case "cooling":
		if f.status == 429 {
			return apierr.UpstreamRateLimited, ""
		}
		return apierr.UpstreamUnavailable, "No provider key is available right now; retry later."
	}
	switch {
	case f.status == 401 || f.status == 403:
		return apierr.UpstreamAuth, ""
	case f.status == 413:
		return apierr.PayloadTooLarge, "The provider refused the request as too large."
	case f.status == 429:
		return apierr.UpstreamRateLimited, ""
	case f.status == 503 || f.status == 529:
		return apierr.UpstreamUnavailable, ""
	case f.status == 504 || f.status == 408:
		return apierr.UpstreamTimeout, ""
	case f.status >= 400 && f.status < 500:
		return apierr.UpstreamBadRequest, f.detail("The provider rejected the request")
	}
	return apierr.UpstreamError, ""
}

// detail appends the upstream's error identifiers — never its message.
func (f *failure) detail(prefix string) string {
	var parts []string
	if f.errType != "" {
		parts = append(parts, "type "+f.errType)
	}
	if f.errCode != "" {
		parts = append(parts, "code "+f.errCode)
	}
	if f.errParam != "" {
		parts = append(parts, "param "+f.errParam)
	}
	if len(parts) == 0 {
		return fmt.Sprintf("%s (status %d).", prefix, f.status)
	}
	return fmt.Sprintf("%s (status %d; %s).", prefix, f.status, strings.Join(parts, ", "))
}

func isTimeout(err error) bool {
	if errors.Is(err, errIdle) {
		return true
	}
	var te interface{ Timeout() bool }
	return errors.As(err, &te) && te.Timeout()
}
