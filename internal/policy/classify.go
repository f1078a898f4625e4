package policy

import (
	"regexp"
	"strings"
	"unicode/utf8"

	"github.com/keyward/keyward/internal/provider"
)

// binaryKeys hold base64 payloads (images, audio, files) or references,
// not prompt text.
var binaryKeys = map[string]bool{
	"data": true, "url": true, "image_url": true, "file_data": true, "b64_json": true,
	"image": true, "audio": true, "input_audio": true, "file_id": true, "signature": true,
}

// promptText counts the characters of the strings in a prompt field (its
// member names too when schema is set: a tool's or a response format's
// property names are rendered into the prompt) and the numbers in it
// (token arrays). Binary payloads are skipped — except the data of a text
// document ({"type":"text","data":…}), which the provider reads as text.
func promptText(v *value, schema bool) (chars, numbers int) {
	var count func(v *value)
	count = func(v *value) {
		switch v.kind {
		case '"':
			chars += utf8.RuneCountInString(v.text)
		case '0':
			numbers++
		case '[':
			for i := range v.items {
				count(&v.items[i])
			}
		case '{':
			text := v.str("type") == "text" || strings.HasPrefix(v.str("media_type"), "text/")
			for i, k := range v.keys {
				if binaryKeys[k] && !(k == "data" && text) {
					continue
				}
				if schema {
					chars += utf8.RuneCountInString(k)
				}
				count(&v.items[i])
			}
		}
	}
	count(v)
	return chars, numbers
}

// Part types a provider bills by what they hold (an image's pixels, a
// document's pages) rather than by the bytes of the request, however they
// are sent — inline or by reference.
var (
	imageTypes    = map[string]bool{"image_url": true, "input_image": true, "image": true}
	documentTypes = map[string]bool{"input_file": true, "file": true, "document": true}
)

// billedParts counts the image and document parts anywhere in the body.
func billedParts(doc *value) (images, documents int) {
	doc.walk("", func(_ string, v *value) bool {
		if v.kind == '{' {
			t := v.str("type")
			if imageTypes[t] {
				images++
			} else if documentTypes[t] {
				documents++
			}
		}
		return true
	})
	return images, documents
}

// statefulFields make a provider add input keyward never sees (an earlier
// response, a stored conversation or prompt, remote MCP servers' tools, a
// web search) or answer before the work is done (background): their cost
// cannot be bounded before sending.
var statefulFields = map[provider.Route][]string{
	provider.Responses: {"previous_response_id", "conversation", "prompt", "background"},
	provider.Chat:      {"previous_response_id", "conversation", "background", "web_search_options"},
	provider.Messages:  {"previous_response_id", "conversation", "background", "mcp_servers"},
}

// clientTool reports whether a tool type is one the client runs itself, so
// that what it adds to the conversation comes back in a later request that
// is bounded in its turn. Any other type — web search, file search, code
// execution, MCP, image generation, and whatever a provider adds next — is
// run and billed by the provider.
func clientTool(route provider.Route, typ string) bool {
	switch typ {
	case "function", "custom":
		return true
	case "":
		return route == provider.Messages // Anthropic's custom tools have no type
	}
	if route == provider.Messages {
		for _, p := range []string{"bash_", "text_editor_", "computer_", "memory_"} {
			if strings.HasPrefix(typ, p) {
				return true
			}
		}
	}
	return false
}

// toolName is the shape of a tool type keyward names in a message.
var toolName = regexp.MustCompile(`^[A-Za-z0-9_.-]{1,48}$`)

// Unbounded names what makes the request's cost impossible to bound before
// it is sent ("" when nothing does): a field that pulls in state stored at
// the provider, background mode, a tool the provider runs itself, or an
// input item that refers to a stored one. It reads the decoded body.
func (r *Request) Unbounded() string {
	for _, f := range statefulFields[r.Route] {
		v, ok := r.doc.member(f)
		if !ok || v.isNull() || v.kind == 'f' || v.kind == '"' && v.text == "" || v.kind == '[' && len(v.items) == 0 {
			continue
		}
		return `"` + f + `"`
	}
	if _, ok := statefulFields[r.Route]; !ok {
		return ""
	}
	if tools, ok := r.doc.member("tools"); ok && tools.kind == '[' {
		for i := range tools.items {
			t := &tools.items[i]
			if t.kind != '{' {
				continue // not a tool: the provider refuses the request
			}
			typ := t.str("type")
			if clientTool(r.Route, typ) {
				continue
			}
			if !toolName.MatchString(typ) {
				return "a tool of a type keyward does not know"
			}
			return "the hosted tool " + typ
		}
	}
	if r.Route == provider.Responses {
		what := ""
		if input, ok := r.doc.member("input"); ok {
			input.walk("", func(_ string, v *value) bool {
				if v.kind == '{' && v.str("type") == "item_reference" {
					what = "an item_reference input item"
				}
				return what == ""
			})
		}
		return what
	}
	return ""
}

// Reasons reports whether the request asks the model to reason before it
// answers (chat's reasoning_effort, the Responses API's reasoning, or
// Anthropic's thinking), so that hidden reasoning tokens are spent before
// any text streams.
func (r *Request) Reasons() bool {
	effort := func(v *value) bool {
		return v.kind == '"' && v.text != "" && v.text != "none" && v.text != "minimal"
	}
	switch r.Route {
	case provider.Chat:
		v, ok := r.doc.member("reasoning_effort")
		return ok && effort(v)
	case provider.Responses:
		v, ok := r.doc.member("reasoning")
		if !ok || v.kind != '{' {
			return false
		}
		e, ok := v.member("effort")
		return !ok || effort(e)
	case provider.Messages:
		v, ok := r.doc.member("thinking")
		if !ok || v.kind != '{' {
			return false
		}
		t := v.str("type")
		return t != "" && t != "disabled"
	}
	return false
}

// ReasoningOff reports whether the request turns reasoning off (an effort
// of "none", Anthropic's thinking disabled), so that even a model that
// reasons by default answers without hidden reasoning.
func (r *Request) ReasoningOff() bool {
	switch r.Route {
	case provider.Chat:
		return r.doc.str("reasoning_effort") == "none"
	case provider.Responses:
		if v, ok := r.doc.member("reasoning"); ok && v.kind == '{' {
			return v.str("effort") == "none"
		}
	case provider.Messages:
		if v, ok := r.doc.member("thinking"); ok && v.kind == '{' {
			return v.str("type") == "disabled"
		}
	}
	return false
}
