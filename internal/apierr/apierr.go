// Package apierr is the closed set of errors a client may see. Each code has
// a fixed HTTP status and maps onto OpenAI's and Anthropic's error types, so
// the official SDKs raise proper API errors. Details of what went wrong go to
// the log; a response carries only the code, a safe message and the request
// id. Upstream errors are mapped to these codes, never forwarded.
package apierr

import (
	"encoding/json"
	"net/http"
	"strconv"

	"github.com/keyward/keyward/internal/redact"
)

// Code is a stable, client-safe error code.
type Code string

// The codes. Clients may rely on them; add, never rename.
const (
	InvalidRequest       Code = "invalid_request"
	InvalidJSON          Code = "invalid_json"
	ModelRequired        Code = "model_required"
	ModelNotFound        Code = "model_not_found"
	ModelNotOnRoute      Code = "model_not_supported_on_route"
	OutputTokensExceeded Code = "max_tokens_exceeded"
	UnsupportedMedia     Code = "unsupported_media_type"
	PayloadTooLarge      Code = "payload_too_large"
	PromptTooLarge       Code = "prompt_too_large"
	Unauthorized         Code = "unauthorized"
	Forbidden            Code = "forbidden"
	ForbiddenModel       Code = "forbidden_model"
	ForbiddenRoute       Code = "forbidden_route"
	NotFound             Code = "not_found"
	MethodNotAllowed     Code = "method_not_allowed"
	RateLimited          Code = "rate_limited"
	// RequestsLimited, TokensLimited and ConcurrencyLimited say which of a
	// plan's limits refused a request.
	RequestsLimited    Code = "rate_limited_requests"
	TokensLimited      Code = "rate_limited_tokens"
	ConcurrencyLimited Code = "rate_limited_concurrency"
	// TokensOverLimit refuses a request that alone may use more tokens than
	// its plan allows in a minute: waiting would not help.
	TokensOverLimit Code = "tokens_over_limit"
	BudgetExceeded  Code = "insufficient_quota" // as OpenAI names its own
	// ModelNotPriced refuses a model with no price when a spend cap
	// applies (usage.unpriced: deny).
	ModelNotPriced Code = "model_not_priced"
	// CostNotBounded refuses, under a spend cap, a request whose cost
	// cannot be bounded before it is sent.
	CostNotBounded      Code = "cost_not_bounded"
	UpstreamBadRequest  Code = "upstream_bad_request"
	UpstreamRateLimited Code = "upstream_rate_limited"
	UpstreamAuth        Code = "upstream_auth_failed"
	UpstreamError       Code = "upstream_error"
	UpstreamUnavailable Code = "upstream_unavailable"
	UpstreamTimeout     Code = "upstream_timeout"
	ShuttingDown        Code = "shutting_down"
	Unavailable         Code = "unavailable"
	OriginNotAllowed    Code = "origin_not_allowed"
	Internal            Code = "internal_error"
)

type spec struct {
	status    int
	openai    string // OpenAI error.type
	anthropic string // Anthropic error.type
	message   string // default message
}

var specs = map[Code]spec{
	InvalidRequest:       {400, "invalid_request_error", "invalid_request_error", "The request is invalid."},
	InvalidJSON:          {400, "invalid_request_error", "invalid_request_error", "The request body is not valid JSON."},
	ModelRequired:        {400, "invalid_request_error", "invalid_request_error", "The request must name a model."},
	ModelNotFound:        {400, "invalid_request_error", "invalid_request_error", "The model is not configured on this gateway."},
	ModelNotOnRoute:      {400, "invalid_request_error", "invalid_request_error", "The model is not available on this route."},
	OutputTokensExceeded: {400, "invalid_request_error", "invalid_request_error", "The requested output tokens exceed the limit."},
	UnsupportedMedia:     {415, "invalid_request_error", "invalid_request_error", "The request body must be application/json."},
	PayloadTooLarge:      {413, "invalid_request_error", "request_too_large", "The request body is too large."},
	PromptTooLarge:       {413, "invalid_request_error", "request_too_large", "The prompt is too large."},
	Unauthorized:         {401, "authentication_error", "authentication_error", "Missing or invalid credentials."},
	Forbidden:            {403, "permission_error", "permission_error", "This credential may not do that."},
	ForbiddenModel:       {403, "permission_error", "permission_error", "This credential may not use that model."},
	ForbiddenRoute:       {403, "permission_error", "permission_error", "This credential may not use this route."},
	NotFound:             {404, "not_found_error", "not_found_error", "No such route."},
	MethodNotAllowed:     {405, "invalid_request_error", "invalid_request_error", "Method not allowed on this route."},
	RateLimited:          {429, "rate_limit_error", "rate_limit_error", "Rate limit reached; retry later."},
	RequestsLimited:      {429, "rate_limit_error", "rate_limit_error", "Request rate limit reached; retry later."},
	TokensLimited:        {429, "rate_limit_error", "rate_limit_error", "Token rate limit reached; retry later."},
	ConcurrencyLimited:   {429, "rate_limit_error", "rate_limit_error", "Too many requests in progress; retry when one finishes."},
	TokensOverLimit:      {413, "invalid_request_error", "request_too_large", "This request may use more tokens than the plan allows per minute."},
	BudgetExceeded:       {429, "insufficient_quota", "rate_limit_error", "Spend limit reached."},
	ModelNotPriced:       {403, "permission_error", "permission_error", "This model has no price configured, and a spend cap applies."},
	CostNotBounded:       {403, "permission_error", "permission_error", "This request's cost cannot be bounded before it is sent, and a spend cap applies."},
	UpstreamBadRequest:   {400, "invalid_request_error", "invalid_request_error", "The provider rejected the request."},
	UpstreamRateLimited:  {429, "rate_limit_error", "rate_limit_error", "The provider is rate limiting; retry later."},
	UpstreamAuth:         {502, "server_error", "api_error", "The gateway could not authenticate with the provider."},
	UpstreamError:        {502, "server_error", "api_error", "The provider returned an error."},
	UpstreamUnavailable:  {503, "server_error", "overloaded_error", "The provider is unavailable; retry later."},
	UpstreamTimeout:      {504, "timeout_error", "timeout_error", "The provider did not answer in time."},
	ShuttingDown:         {503, "server_error", "overloaded_error", "The gateway is shutting down; retry."},
	OriginNotAllowed:     {403, "permission_error", "permission_error", "This origin may not call the gateway."},
	Unavailable:          {503, "server_error", "api_error", "The gateway cannot serve this request right now; retry."},
	Internal:             {500, "server_error", "api_error", "Internal error."},
}

// Status is the HTTP status of a code (500 for an unknown one).
func (c Code) Status() int {
	if s, ok := specs[c]; ok {
		return s.status
	}
	return http.StatusInternalServerError
}

// DefaultMessage is the message used when none is given.
func (c Code) DefaultMessage() string { return specs[c].message }

// Family says whose error shape a route speaks.
type Family int

const (
	// OpenAI: {"error":{"message","type","param","code","request_id"}}.
	OpenAI Family = iota
	// Anthropic: {"type":"error","error":{"type","message","code"},"request_id"}.
	Anthropic
)

// RequestIDHeader carries keyward's request id on every response.
const RequestIDHeader = "X-Request-Id"

type openaiBody struct {
	Error openaiError `json:"error"`
}

type openaiError struct {
	Message   string  `json:"message"`
	Type      string  `json:"type"`
	Param     *string `json:"param"`
	Code      Code    `json:"code"`
	RequestID string  `json:"request_id,omitempty"`
}

type anthropicBody struct {
	Type      string         `json:"type"`
	Error     anthropicError `json:"error"`
	RequestID string         `json:"request_id,omitempty"`
}

type anthropicError struct {
	Type    string `json:"type"`
	Message string `json:"message"`
	Code    Code   `json:"code"`
}

// Body renders the JSON body of an error. message must be client-safe; it
// is scrubbed of anything key-shaped all the same.
func Body(f Family, code Code, message, requestID string) []byte {
	code, s, message := resolve(code, message)
	var v any
	if f == Anthropic {
		v = anthropicBody{Type: "error", Error: anthropicError{Type: s.anthropic, Message: message, Code: code}, RequestID: requestID}
	} else {
		v = openaiBody{Error: openaiError{Message: message, Type: s.openai, Code: code, RequestID: requestID}}
	}
	b, _ := json.Marshal(v) // plain structs of strings: cannot fail
	return b
}

// resolve maps an unknown code to Internal, fills in the default message
// and scrubs anything key-shaped from the message.
func resolve(code Code, message string) (Code, spec, string) {
	s, ok := specs[code]
	if !ok {
		code, s = Internal, specs[Internal]
	}
	if message == "" {
		message = s.message
	}
	return code, s, redact.ScrubPatterns(message)
}

// Write sends an error response. The request id is read from the response's
// own X-Request-Id header, which the server sets before any handler runs.
func Write(w http.ResponseWriter, f Family, code Code, message string) {
	id := w.Header().Get(RequestIDHeader)
	b := Body(f, code, message, id)
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Content-Length", strconv.Itoa(len(b)))
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Cache-Control", "no-store")
	if f == Anthropic && id != "" {
		h.Set("Request-Id", id)
	}
	w.WriteHeader(code.Status())
	_, _ = w.Write(b)
}

// StreamKind says which event stream an error event is written into.
type StreamKind int

const (
	// ChatStream is OpenAI Chat Completions: data-only events.
	ChatStream StreamKind = iota
	// ResponsesStream is the OpenAI Responses API: named events.
	ResponsesStream
	// MessagesStream is Anthropic Messages: named events.
	MessagesStream
)

// StreamEvent renders an error as one SSE event of the given stream kind,
// shaped so the official SDKs raise it from their stream iterators.
func StreamEvent(k StreamKind, code Code, message, requestID string) []byte {
	code, s, message := resolve(code, message)
	var (
		name string
		v    any
	)
	switch k {
	case MessagesStream:
		name = "error"
		v = anthropicBody{Type: "error", Error: anthropicError{Type: s.anthropic, Message: message, Code: code}, RequestID: requestID}
	case ResponsesStream:
		// The Responses API's own error event has type/code/message at the
		// top; the nested "error" is what makes openai-go's stream fail.
		name = "error"
		v = struct {
			Type    string      `json:"type"`
			Code    Code        `json:"code"`
			Message string      `json:"message"`
			Param   *string     `json:"param"`
			Error   openaiError `json:"error"`
		}{"error", code, message, nil, openaiError{Message: message, Type: s.openai, Code: code, RequestID: requestID}}
	default:
		v = openaiBody{Error: openaiError{Message: message, Type: s.openai, Code: code, RequestID: requestID}}
	}
	data, _ := json.Marshal(v)
	out := make([]byte, 0, len(data)+32)
	if name != "" {
		out = append(out, "event: "+name+"\n"...)
	}
	out = append(out, "data: "...)
	out = append(out, data...)
	return append(out, "\n\n"...)
}

// Codes lists every code, for documentation and tests.
func Codes() []Code {
	out := make([]Code, 0, len(specs))
	for c := range specs {
		out = append(out, c)
	}
	return out
}
