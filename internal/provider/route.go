// Package provider knows each upstream API family, one Adapter per family
// in a file of its own: which routes a kind serves, how its URLs are built,
// which headers carry its credential and version, how its answers report
// usage (in a body and in a stream) and errors, and what it prices itself.
// The routes' wire formats are read in openai_wire.go and
// anthropic_wire.go. It also pools keys and cools them down, and holds the built-in
// mock provider. No other package tells provider kinds apart.
package provider

import (
	"slices"

	"github.com/keyward/keyward/internal/apierr"
)

// Route is one of the API operations keyward forwards.
type Route int

// The routes.
const (
	Chat Route = iota + 1
	Responses
	Embeddings
	Messages
	CountTokens
)

type routeInfo struct {
	name   string
	suffix string // appended to the provider's base URL
	family apierr.Family
	stream apierr.StreamKind
	// tokenFields are the output-token fields the route accepts.
	tokenFields []string
	// promptFields hold the prompt text; schemaFields hold schemas (tools,
	// response formats) whose member names are tokenized too.
	promptFields, schemaFields []string
	// dialect reads the route's answers: usage, stream events, errors.
	dialect dialect
}

var routes = map[Route]routeInfo{
	Chat: {"chat", "/chat/completions", apierr.OpenAI, apierr.ChatStream, []string{"max_tokens", "max_completion_tokens"},
		[]string{"messages", "prompt"}, []string{"tools", "functions", "response_format"}, chatDialect{}},
	Responses: {"responses", "/responses", apierr.OpenAI, apierr.ResponsesStream, []string{"max_output_tokens"},
		[]string{"input", "instructions"}, []string{"tools", "text"}, responsesDialect{}},
	Embeddings: {"embeddings", "/embeddings", apierr.OpenAI, apierr.ChatStream, nil, []string{"input"}, nil, embeddingsDialect{}},
	Messages: {"messages", "/messages", apierr.Anthropic, apierr.MessagesStream, []string{"max_tokens"},
		[]string{"messages", "system"}, []string{"tools", "output_format", "output_config"}, messagesDialect{}},
	CountTokens: {"count_tokens", "/messages/count_tokens", apierr.Anthropic, apierr.MessagesStream, nil,
		[]string{"messages", "system"}, []string{"tools", "output_format", "output_config"}, countTokensDialect{}},
}

// String names the route for logs and metrics.
func (r Route) String() string { return routes[r].name }

// Suffix is the path appended to a provider's base URL.
func (r Route) Suffix() string { return routes[r].suffix }

// Family is whose error shape the route speaks.
func (r Route) Family() apierr.Family { return routes[r].family }

// StreamKind is the event stream the route produces when streaming.
func (r Route) StreamKind() apierr.StreamKind { return routes[r].stream }

// TokenFields are the output-token fields of the route's request body.
func (r Route) TokenFields() []string { return routes[r].tokenFields }

// PromptKind says how a request field's text counts as prompt.
type PromptKind int

const (
	// NotPrompt: the field holds no prompt text.
	NotPrompt PromptKind = iota
	// Text: the field's string values are prompt (messages, input).
	Text
	// SchemaText: member names count too (tools, response formats), as the
	// provider renders the schema into the prompt.
	SchemaText
)

// PromptField says whether a top-level request field holds prompt text,
// and how it counts.
func (r Route) PromptField(name string) (PromptKind, bool) {
	if slices.Contains(routes[r].promptFields, name) {
		return Text, true
	}
	if slices.Contains(routes[r].schemaFields, name) {
		return SchemaText, true
	}
	return NotPrompt, false
}

// CanStream reports whether the route has a streaming form.
func (r Route) CanStream() bool { return r == Chat || r == Responses || r == Messages }
