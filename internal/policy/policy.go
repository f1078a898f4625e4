// Package policy checks and shapes a request body before it is forwarded:
// valid JSON within depth limits, a model name, the prompt within its size
// cap, and output-token fields clamped (or refused) at the cap. It rebuilds
// the body for each target with the target's model name.
package policy

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/keyward/keyward/internal/apierr"
	"github.com/keyward/keyward/internal/provider"
)

// Limits are what a request is checked against.
type Limits struct {
	MaxPromptChars  int
	MaxOutputTokens int
	// RejectOverCap answers 400 instead of clamping an output-token field.
	RejectOverCap bool
	MaxJSONDepth  int
}

// Error is a client error: an apierr code and a message safe to show.
type Error struct {
	Code    apierr.Code
	Message string
}

func (e *Error) Error() string { return string(e.Code) + ": " + e.Message }

func fail(code apierr.Code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// Request is a parsed request body.
type Request struct {
	Route  provider.Route
	Model  string
	Stream bool
	// PromptChars is the length, in characters, of the prompt text.
	PromptChars int
	// OutputTokens is the effective output cap sent upstream (0 on routes
	// without output).
	OutputTokens int
	// Clamped lists the fields lowered to the cap.
	Clamped []string
	// Choices is how many completions the request asks for (chat's "n"),
	// each of which may use OutputTokens.
	Choices int
	// ClientUsage is set when a chat stream asked for its usage chunk
	// (stream_options.include_usage). keyward asks for it on every chat
	// stream and removes it again when the client did not.
	ClientUsage bool

	fields   map[string]json.RawMessage
	hasToken bool
}

// Parse validates a body for a route and applies the limits.
func Parse(route provider.Route, body []byte, l Limits) (*Request, error) {
	if err := checkDepth(body, l.MaxJSONDepth); err != nil {
		return nil, err
	}
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(body, &fields); err != nil {
		return nil, jsonError(body, err)
	}
	if fields == nil {
		return nil, fail(apierr.InvalidJSON, "the request body must be a JSON object")
	}
	r := &Request{Route: route, fields: fields, Choices: 1}
	raw, ok := fields["model"]
	if !ok || bytes.Equal(raw, []byte("null")) {
		return nil, fail(apierr.ModelRequired, "the request must name a model, for example \"model\": \"fast\"")
	}
	if err := json.Unmarshal(raw, &r.Model); err != nil {
		return nil, fail(apierr.InvalidRequest, "\"model\" must be a string")
	}
	if r.Model == "" {
		return nil, fail(apierr.ModelRequired, "the request must name a model, for example \"model\": \"fast\"")
	}
	if raw, ok := fields["stream"]; ok && !bytes.Equal(raw, []byte("null")) {
		if err := json.Unmarshal(raw, &r.Stream); err != nil {
			return nil, fail(apierr.InvalidRequest, "\"stream\" must be true or false")
		}
		if r.Stream && !route.CanStream() {
			return nil, fail(apierr.InvalidRequest, "this route does not stream")
		}
	}

	if route == provider.Chat {
		if raw, ok := fields["n"]; ok && !bytes.Equal(raw, []byte("null")) {
			if err := json.Unmarshal(raw, &r.Choices); err != nil || r.Choices < 1 || r.Choices > maxChoices {
				return nil, fail(apierr.InvalidRequest, "\"n\" must be an integer from 1 to %d", maxChoices)
			}
		}
		if raw, ok := fields["stream_options"]; ok && !bytes.Equal(raw, []byte("null")) {
			var so struct {
				IncludeUsage *bool `json:"include_usage"`
			}
			if err := json.Unmarshal(raw, &so); err != nil || raw[0] != '{' {
				return nil, fail(apierr.InvalidRequest, "\"stream_options\" must be an object such as {\"include_usage\": true}")
			}
			r.ClientUsage = so.IncludeUsage != nil && *so.IncludeUsage
		}
	}

	for _, f := range route.PromptFields() {
		raw, ok := fields[f]
		if !ok {
			continue
		}
		n, err := promptChars(raw)
		if err != nil {
			return nil, fail(apierr.InvalidJSON, "field %q: %v", f, err)
		}
		r.PromptChars += n
	}
	if l.MaxPromptChars > 0 && r.PromptChars > l.MaxPromptChars {
		return nil, fail(apierr.PromptTooLarge, "the prompt has %d characters; the limit is %d", r.PromptChars, l.MaxPromptChars)
	}

	if len(route.TokenFields()) == 0 {
		return r, nil
	}
	r.OutputTokens = l.MaxOutputTokens
	for _, f := range route.TokenFields() {
		raw, ok := fields[f]
		if !ok || bytes.Equal(raw, []byte("null")) {
			continue
		}
		var n int64
		if err := json.Unmarshal(raw, &n); err != nil || n < 1 {
			return nil, fail(apierr.InvalidRequest, "%q must be a positive integer", f)
		}
		r.hasToken = true
		if l.MaxOutputTokens > 0 && n > int64(l.MaxOutputTokens) {
			if l.RejectOverCap {
				return nil, fail(apierr.OutputTokensExceeded, "%q is %d; the limit is %d", f, n, l.MaxOutputTokens)
			}
			fields[f] = json.RawMessage(strconv.Itoa(l.MaxOutputTokens))
			r.Clamped = append(r.Clamped, f)
			continue
		}
		r.OutputTokens = min(r.OutputTokens, int(n))
		if l.MaxOutputTokens == 0 {
			r.OutputTokens = int(n)
		}
	}
	return r, nil
}

// Body renders the request for one target: its model name, and — when the
// client set no output-token field — the cap in the field the provider
// reads (tokenField, "" for none).
func (r *Request) Body(model, tokenField string) []byte {
	out := make(map[string]json.RawMessage, len(r.fields)+1)
	for k, v := range r.fields {
		out[k] = v
	}
	m, _ := json.Marshal(model)
	out["model"] = m
	if !r.hasToken && tokenField != "" && r.OutputTokens > 0 {
		out[tokenField] = json.RawMessage(strconv.Itoa(r.OutputTokens))
	}
	if r.InjectsUsage() {
		// Ask for the usage chunk, keeping the client's other options.
		opts := map[string]json.RawMessage{}
		if raw, ok := r.fields["stream_options"]; ok {
			_ = json.Unmarshal(raw, &opts) // checked in Parse
		}
		opts["include_usage"] = json.RawMessage("true")
		b, _ := json.Marshal(opts)
		out["stream_options"] = b
	}
	b, _ := json.Marshal(out) // RawMessages that parsed once: cannot fail
	return b
}

// InjectsUsage reports whether Body asks the provider for a usage chunk
// the client did not ask for (and the proxy must remove again).
func (r *Request) InjectsUsage() bool {
	return r.Route == provider.Chat && r.Stream && !r.ClientUsage
}

// statefulFields make a provider add input keyward never sees (an earlier
// response, a stored conversation or prompt) or answer before the work is
// done (background): their cost cannot be bounded before sending.
var statefulFields = []string{"previous_response_id", "conversation", "prompt", "background"}

// hostedTools are tool types the provider runs itself, billing per call
// and adding what they find to the input.
var hostedTools = regexp.MustCompile(`"type"\s*:\s*"(web_search[a-z0-9_]*|file_search|code_interpreter|computer_use[a-z0-9_]*|image_generation|mcp|local_shell|web_fetch[a-z0-9_]*|code_execution[a-z0-9_]*)"`)

// Unbounded names what makes the request's cost impossible to bound before
// it is sent ("" when nothing does): a field that pulls in state stored at
// the provider, background mode, or a tool the provider runs itself.
func (r *Request) Unbounded() string {
	if r.Route != provider.Responses && r.Route != provider.Chat && r.Route != provider.Messages {
		return ""
	}
	for _, f := range statefulFields {
		raw, ok := r.fields[f]
		if !ok || bytes.Equal(raw, []byte("null")) || bytes.Equal(raw, []byte("false")) || bytes.Equal(raw, []byte(`""`)) {
			continue
		}
		if f == "prompt" && r.Route != provider.Responses {
			continue // the legacy completions prompt is text, counted as such
		}
		return `"` + f + `"`
	}
	if raw, ok := r.fields["tools"]; ok {
		if m := hostedTools.FindSubmatch(raw); m != nil {
			return "the hosted tool " + string(m[1])
		}
	}
	return ""
}

// Reasons reports whether the request asks the model to reason before it
// answers (chat's reasoning_effort, the Responses API's reasoning, or
// Anthropic's thinking), so that hidden reasoning tokens are spent before
// any text streams.
func (r *Request) Reasons() bool {
	effort := func(raw json.RawMessage) bool {
		var s string
		if json.Unmarshal(raw, &s) != nil {
			return false
		}
		return s != "" && s != "none" && s != "minimal"
	}
	switch r.Route {
	case provider.Chat:
		raw, ok := r.fields["reasoning_effort"]
		return ok && effort(raw)
	case provider.Responses:
		var v struct {
			Effort json.RawMessage `json:"effort"`
		}
		raw, ok := r.fields["reasoning"]
		if !ok || json.Unmarshal(raw, &v) != nil || raw[0] != '{' {
			return false
		}
		return v.Effort == nil || effort(v.Effort)
	case provider.Messages:
		var v struct {
			Type string `json:"type"`
		}
		raw, ok := r.fields["thinking"]
		return ok && json.Unmarshal(raw, &v) == nil && v.Type != "" && v.Type != "disabled"
	}
	return false
}

// maxChoices bounds chat's "n" (OpenAI's own limit).
const maxChoices = 128

// TokenField picks the output-token field a target reads on this route.
func (r *Request) TokenField(p *provider.Provider) string {
	switch r.Route {
	case provider.Chat:
		return p.ChatTokenField()
	case provider.Responses:
		return "max_output_tokens"
	case provider.Messages:
		return "max_tokens"
	}
	return ""
}

// checkDepth refuses bodies nested deeper than max before any decoder
// recurses into them.
func checkDepth(b []byte, max int) error {
	if max <= 0 {
		return nil
	}
	depth, inString, escaped := 0, false, false
	for i, c := range b {
		switch {
		case inString:
			if escaped {
				escaped = false
			} else if c == '\\' {
				escaped = true
			} else if c == '"' {
				inString = false
			}
		case c == '"':
			inString = true
		case c == '{' || c == '[':
			depth++
			if depth > max {
				return fail(apierr.InvalidJSON, "the JSON is nested deeper than %d levels (at byte %d)", max, i)
			}
		case c == '}' || c == ']':
			depth--
		}
	}
	return nil
}

func jsonError(body []byte, err error) *Error {
	if len(bytes.TrimSpace(body)) == 0 {
		return fail(apierr.InvalidJSON, "the request body is empty; send a JSON object")
	}
	var se *json.SyntaxError
	if errors.As(err, &se) && strings.HasPrefix(se.Error(), "unexpected end") {
		return fail(apierr.InvalidJSON, "the JSON is cut short at byte %d", se.Offset)
	}
	if errors.As(err, &se) {
		return fail(apierr.InvalidJSON, "invalid JSON at byte %d: %s", se.Offset, se.Error())
	}
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		return fail(apierr.InvalidJSON, "the request body must be a JSON object")
	}
	return fail(apierr.InvalidJSON, "invalid JSON")
}

// binaryKeys hold base64 payloads (images, audio, files), not prompt text.
var binaryKeys = map[string]bool{
	"data": true, "url": true, "image_url": true, "file_data": true, "b64_json": true,
	"image": true, "audio": true, "input_audio": true, "file_id": true, "signature": true,
}

// promptChars counts the characters of the string values in a prompt
// field, skipping binary payloads and object keys.
func promptChars(raw json.RawMessage) (int, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	n := 0
	// stack of container kinds: true for objects; expectKey tracks whether
	// the next string in an object is a key.
	type frame struct {
		object    bool
		expectKey bool
		skip      bool // value of a binary key
	}
	var stack []frame
	skipDepth := -1
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			return n, nil
		}
		if err != nil {
			return 0, err
		}
		top := len(stack) - 1
		switch v := tok.(type) {
		case json.Delim:
			switch v {
			case '{', '[':
				stack = append(stack, frame{object: v == '{', expectKey: v == '{'})
			case '}', ']':
				stack = stack[:top]
				if top == 0 {
					return n, nil // the value is complete
				}
				if skipDepth == len(stack) {
					skipDepth = -1
				}
				if len(stack) > 0 && stack[len(stack)-1].object {
					stack[len(stack)-1].expectKey = true
				}
			}
			continue
		case string:
			if top >= 0 && stack[top].object && stack[top].expectKey {
				stack[top].expectKey = false
				if skipDepth < 0 && binaryKeys[v] {
					skipDepth = len(stack)
					stack[top].skip = true
				}
				continue
			}
			if skipDepth < 0 {
				n += utf8.RuneCountInString(v)
			}
		}
		if top < 0 {
			return n, nil // a scalar top-level value
		}
		// A scalar value ends: the next token in an object is a key.
		if top >= 0 && stack[top].object {
			stack[top].expectKey = true
			if stack[top].skip && skipDepth == len(stack) {
				stack[top].skip = false
				skipDepth = -1
			}
		}
	}
}
