// Package policy owns plans and what they allow, and checks and shapes a
// request body before it is forwarded.
//
// Plans: a principal's Grant (its plan and scopes, the limits they narrow),
// how a browser token's grant only narrows its minting key's (Narrow,
// PlanWithin), and configured limits turned into what Parse checks
// (LimitsFrom).
//
// Requests: Parse decodes the body once, strictly (valid JSON within depth limits, no
// duplicate member names, valid UTF-8), and every check reads that decoded
// tree: a model name, the prompt within its size cap, output-token fields
// clamped (or refused) at the cap, the parts billed by content, and what
// makes a cost unbounded. It encodes the body for each target from the same
// tree, with the target's model name, so what is forwarded is what was
// checked.
package policy

import (
	"fmt"
	"slices"
	"strconv"

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

// Request is a parsed request body: the decoded JSON that every check
// reads and that Body encodes for the provider, and what the checks found.
type Request struct {
	Route  provider.Route
	Model  string
	Stream bool
	// PromptChars is the length, in characters, of the prompt text: every
	// string the provider tokenizes (messages, system, tools and their
	// schemas, response formats, text documents), not binary payloads.
	PromptChars int
	// PromptNumbers counts the numbers in the prompt: token arrays
	// ("input":[[1000,…]] on embeddings) are a token a number.
	PromptNumbers int
	// Images and Documents count the parts a provider bills by what they
	// hold rather than by their bytes, however they are sent.
	Images, Documents int
	// BodyBytes is the size of the body as received.
	BodyBytes int
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
	// EndUser is the end user the body names, if any: OpenAI's "user",
	// Anthropic's metadata.user_id (a string; "" otherwise). EndUserSet
	// reports that the member is there at all, whatever its value.
	EndUser    string
	EndUserSet bool

	doc      value
	hasToken bool
}

// Parse validates a body for a route and applies the limits. The body is
// decoded once; every check reads the decoded tree.
func Parse(route provider.Route, body []byte, l Limits) (*Request, error) {
	if err := checkDepth(body, l.MaxJSONDepth); err != nil {
		return nil, err
	}
	doc, err := decodeTree(body)
	if err != nil {
		return nil, err
	}
	if doc.kind != '{' {
		return nil, fail(apierr.InvalidJSON, "the request body must be a JSON object")
	}
	r := &Request{Route: route, doc: doc, Choices: 1, BodyBytes: len(body)}
	raw, ok := doc.member("model")
	if !ok || raw.isNull() {
		return nil, fail(apierr.ModelRequired, "the request must name a model, for example \"model\": \"fast\"")
	}
	if raw.kind != '"' {
		return nil, fail(apierr.InvalidRequest, "\"model\" must be a string")
	}
	if r.Model = raw.text; r.Model == "" {
		return nil, fail(apierr.ModelRequired, "the request must name a model, for example \"model\": \"fast\"")
	}
	if raw, ok := doc.member("stream"); ok && !raw.isNull() {
		if raw.kind != 't' && raw.kind != 'f' {
			return nil, fail(apierr.InvalidRequest, "\"stream\" must be true or false")
		}
		r.Stream = raw.kind == 't'
		if r.Stream && !route.CanStream() {
			return nil, fail(apierr.InvalidRequest, "this route does not stream")
		}
	}

	if route == provider.Messages || route == provider.CountTokens {
		if md, ok := doc.member("metadata"); ok && md.kind == '{' {
			_, r.EndUserSet = md.member("user_id")
			r.EndUser = md.str("user_id")
		}
	} else {
		_, r.EndUserSet = doc.member("user")
		r.EndUser = doc.str("user")
	}

	if route == provider.Chat {
		if raw, ok := doc.member("n"); ok && !raw.isNull() {
			n, err := strconv.Atoi(raw.text)
			if raw.kind != '0' || err != nil || n < 1 || n > maxChoices {
				return nil, fail(apierr.InvalidRequest, "\"n\" must be an integer from 1 to %d", maxChoices)
			}
			r.Choices = n
		}
		if raw, ok := doc.member("stream_options"); ok && !raw.isNull() {
			if raw.kind != '{' {
				return nil, fail(apierr.InvalidRequest, "\"stream_options\" must be an object such as {\"include_usage\": true}")
			}
			iu, ok := raw.member("include_usage")
			if ok && !iu.isNull() && iu.kind != 't' && iu.kind != 'f' {
				return nil, fail(apierr.InvalidRequest, "\"stream_options\" must be an object such as {\"include_usage\": true}")
			}
			r.ClientUsage = ok && iu.kind == 't'
		}
	}

	for i, f := range doc.keys {
		if kind, ok := route.PromptField(f); ok {
			c, n := promptText(&doc.items[i], kind == provider.SchemaText)
			r.PromptChars += c
			r.PromptNumbers += n
		}
	}
	if l.MaxPromptChars > 0 && r.PromptChars > l.MaxPromptChars {
		return nil, fail(apierr.PromptTooLarge, "the prompt has %d characters; the limit is %d", r.PromptChars, l.MaxPromptChars)
	}
	r.Images, r.Documents = billedParts(&doc)

	if len(route.TokenFields()) == 0 {
		return r, nil
	}
	// The output cap is the largest a field asks for: a provider that reads
	// either field may generate up to it.
	r.OutputTokens = l.MaxOutputTokens
	asked := 0
	for _, f := range route.TokenFields() {
		raw, ok := r.doc.member(f)
		if !ok || raw.isNull() {
			continue
		}
		n, err := strconv.ParseInt(raw.text, 10, 64)
		if raw.kind != '0' || err != nil || n < 1 {
			return nil, fail(apierr.InvalidRequest, "%q must be a positive integer", f)
		}
		r.hasToken = true
		if l.MaxOutputTokens > 0 && n > int64(l.MaxOutputTokens) {
			if l.RejectOverCap {
				return nil, fail(apierr.OutputTokensExceeded, "%q is %d; the limit is %d", f, n, l.MaxOutputTokens)
			}
			*raw = value{kind: '0', text: strconv.Itoa(l.MaxOutputTokens)}
			r.Clamped = append(r.Clamped, f)
			n = int64(l.MaxOutputTokens)
		}
		asked = max(asked, int(n))
	}
	if r.hasToken {
		r.OutputTokens = asked
	}
	return r, nil
}

// Body renders the request for one target: the decoded tree, members in
// the client's order, with the target's model name and — when the client
// set no output-token field — the cap in the field the provider reads
// (tokenField, "" for none).
func (r *Request) Body(model, tokenField string) []byte {
	out := value{kind: '{', keys: make([]string, 0, len(r.doc.keys)+2), items: make([]value, 0, len(r.doc.items)+2)}
	injected := false
	for i, k := range r.doc.keys {
		v := r.doc.items[i]
		switch {
		case k == "model":
			v = value{kind: '"', text: model}
		case k == "stream_options" && r.InjectsUsage():
			v, injected = withIncludeUsage(v), true
		}
		out.keys, out.items = append(out.keys, k), append(out.items, v)
	}
	if !r.hasToken && tokenField != "" && r.OutputTokens > 0 {
		if m, ok := out.member(tokenField); ok {
			*m = value{kind: '0', text: strconv.Itoa(r.OutputTokens)}
		} else {
			out.keys, out.items = append(out.keys, tokenField), append(out.items, value{kind: '0', text: strconv.Itoa(r.OutputTokens)})
		}
	}
	if r.InjectsUsage() && !injected {
		out.keys, out.items = append(out.keys, "stream_options"), append(out.items, withIncludeUsage(value{kind: '{'}))
	}
	return out.encode(make([]byte, 0, r.BodyBytes+64))
}

// withIncludeUsage is stream_options asking for the usage chunk, keeping
// the client's other options.
func withIncludeUsage(opts value) value {
	if opts.kind != '{' {
		opts = value{kind: '{'}
	}
	o := value{kind: '{', keys: slices.Clone(opts.keys), items: slices.Clone(opts.items)}
	if m, ok := o.member("include_usage"); ok {
		*m = value{kind: 't'}
		return o
	}
	o.keys, o.items = append(o.keys, "include_usage"), append(o.items, value{kind: 't'})
	return o
}

// MaxOutput is the most output the request may generate: its output cap
// for each of its choices.
func (r *Request) MaxOutput() int64 { return int64(r.OutputTokens) * int64(max(r.Choices, 1)) }

// InjectsUsage reports whether Body asks the provider for a usage chunk
// the client did not ask for (and the proxy must remove again).
func (r *Request) InjectsUsage() bool {
	return r.Route == provider.Chat && r.Stream && !r.ClientUsage
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
