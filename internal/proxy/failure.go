package proxy

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/keyward/keyward/internal/apierr"
	"github.com/keyward/keyward/internal/provider"
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

// knownIdents are the provider error types and codes a client may be
// shown: a closed list, because any other string the upstream chose is a
// channel out for whatever it put there (a key sliced into type, code and
// param). The operator's log has the upstream's message.
var knownIdents = map[string]bool{}

func init() {
	for _, w := range strings.Fields(`
		invalid_request_error authentication_error permission_error not_found_error rate_limit_error
		request_too_large api_error overloaded_error billing_error timeout_error server_error
		service_unavailable_error insufficient_quota tokens requests invalid_api_key model_not_found
		context_length_exceeded rate_limit_exceeded invalid_value invalid_type unsupported_value
		unsupported_parameter unknown_parameter missing_required_parameter string_above_max_length
		string_below_min_length array_above_max_length array_below_min_length integer_above_max_value
		integer_below_min_value decimal_above_max_value decimal_below_min_value empty_array empty_string
		invalid_image invalid_image_url invalid_image_format image_parse_error content_policy_violation
		image_content_policy_violation content_filter invalid_prompt invalid_function_parameters
		invalid_json_schema invalid_encoding_format model_decommissioned model_not_active
		server_is_overloaded account_deactivated billing_hard_limit_reached billing_not_active
		unsupported_country_region_territory invalid_organization request_timeout too_many_requests
		DeploymentNotFound ResponsibleAIPolicyViolation OperationNotSupported InvalidRequest BadRequest
		NotFound Unauthorized TooManyRequests InternalServerError ServiceUnavailable
		INVALID_ARGUMENT FAILED_PRECONDITION OUT_OF_RANGE UNAUTHENTICATED PERMISSION_DENIED NOT_FOUND
		ABORTED RESOURCE_EXHAUSTED CANCELLED INTERNAL NOT_IMPLEMENTED UNAVAILABLE DEADLINE_EXCEEDED`) {
		knownIdents[w] = true
	}
}

// statusIdent is a numeric code, as some providers send their HTTP status.
var statusIdent = regexp.MustCompile(`^[1-5][0-9]{2}$`)

// ident returns an upstream error type or code when it is one a client
// may be shown.
func ident(s string) string {
	if knownIdents[s] || statusIdent.MatchString(s) {
		return s
	}
	return ""
}

// paramShape is the shape of an error's param: a path into the request.
var paramShape = regexp.MustCompile(`^[A-Za-z0-9_.\[\]-]{1,128}$`)

// param returns an upstream error's param when it is a path into the
// request keyward sent — every name in it one the request has, every index
// short — and so tells the client nothing it did not send.
func param(s string, req []byte, scrub *secret.Scrubber) string {
	if !paramShape.MatchString(s) || scrub.Contains([]byte(s)) || redact.LooksLikeKey(s) {
		return ""
	}
	for _, seg := range strings.FieldsFunc(s, func(r rune) bool { return r == '.' || r == '[' || r == ']' }) {
		if strings.Trim(seg, "0123456789") == "" {
			if len(seg) > 4 {
				return ""
			}
			continue
		}
		if !bytes.Contains(req, []byte(`"`+seg+`"`)) {
			return ""
		}
	}
	return s
}

// readFailure reads a non-2xx upstream response (to the request body req)
// into a failure, its body read the way the provider p writes errors.
func readFailure(resp *http.Response, p *provider.Provider, scrub *secret.Scrubber, req []byte, now time.Time) *failure {
	f := &failure{status: resp.StatusCode, kind: "status", retryAfter: retryAfter(resp.Header, now)}
	b, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
	f.set(p.Failure(b), scrub, req)
	return f
}

// set keeps what an upstream error body said that answered the request
// body req: its type and code only from the closed list, its param only
// as a path into req, its message scrubbed (for the log alone).
func (f *failure) set(e provider.UpstreamError, scrub *secret.Scrubber, req []byte) {
	if e.Raw {
		f.message = truncate(scrub.String(e.Message), 300)
		return
	}
	f.errType, f.errCode, f.errParam = ident(e.Type), ident(e.Code), param(e.Param, req, scrub)
	f.message = truncate(scrub.String(e.Message), 300)
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
