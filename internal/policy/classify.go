package policy

import (
	"regexp"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/keyward/keyward/internal/provider"
)

// binaryMembers are, by a part's type, the members that carry a binary
// payload or a reference (an image's base64 or URL, a file's data or id):
// not prompt text. Nothing is exempt by its member name alone, so text
// under a "data" or "url" member anywhere else counts.
var binaryMembers = map[string][]string{
	"image_url":           {"image_url"},
	"input_image":         {"image_url", "file_id"},
	"computer_screenshot": {"image_url", "file_id"},
	"input_file":          {"file_data", "file_id", "file_url"},
	"file":                {"file"},
	"input_audio":         {"input_audio"},
	"image":               {"source"},
	"document":            {"source"},
	"thinking":            {"signature"},
	"redacted_thinking":   {"data"},
}

// sourceBinary reports whether an Anthropic image or document source is
// binary (base64 data, a URL or a file id) rather than text the provider
// reads as prompt ({"type":"text","data":…} or {"type":"content",…}).
func sourceBinary(src *value) bool {
	switch src.str("type") {
	case "text", "content":
		return false
	}
	return !strings.HasPrefix(src.str("media_type"), "text/")
}

// promptText counts the characters of the strings in a prompt field and
// the numbers in it (token arrays). In schema mode (tools, response
// formats) and inside a tool call's input, member names count too and
// nothing is exempt: the provider renders all of it into the prompt. In
// text mode the binary members of image, audio and file parts are skipped.
func promptText(v *value, schema bool) (chars, numbers int) {
	var count func(v *value, schema bool)
	count = func(v *value, schema bool) {
		switch v.kind {
		case '"':
			chars += utf8.RuneCountInString(v.text)
		case '0':
			numbers++
		case '[':
			for i := range v.items {
				count(&v.items[i], schema)
			}
		case '{':
			typ := v.str("type")
			skip := binaryMembers[typ]
			for i, k := range v.keys {
				item := &v.items[i]
				if schema {
					chars += utf8.RuneCountInString(k)
					count(item, true)
					continue
				}
				if slices.Contains(skip, k) && (k != "source" || sourceBinary(item)) {
					continue
				}
				// A tool call's input is JSON the provider renders whole.
				count(item, k == "input" && (typ == "tool_use" || typ == "server_tool_use"))
			}
		}
	}
	count(v, schema)
	return chars, numbers
}

// Part types a provider bills by what they hold (an image's pixels, a
// document's pages) rather than by the bytes of the request, however they
// are sent — inline or by reference.
var (
	imageTypes    = map[string]bool{"image_url": true, "input_image": true, "image": true, "computer_screenshot": true}
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
				if v.kind == '{' && storedItem(v) {
					what = "an item_reference input item"
				}
				return what == ""
			})
		}
		if what != "" {
			return what
		}
	}
	// A priority tier bills more than the price table says.
	if t, ok := r.doc.member("service_tier"); ok && t.kind == '"' && !slices.Contains([]string{"", "auto", "default", "flex", "standard_only"}, t.text) {
		return `"service_tier": "` + safeWord(t.text) + `"`
	}
	// Gemini's OpenAI-compatible API reads a stored context cache.
	for _, f := range []string{"extra_body", "google"} {
		if v, ok := r.doc.member(f); ok {
			found := false
			v.walk("", func(k string, _ *value) bool {
				found = found || k == "cached_content"
				return !found
			})
			if found {
				return "a stored cached_content"
			}
		}
	}
	return ""
}

// storedItem reports whether a Responses input item refers to one the
// provider stored: an item_reference, or an item that names an id and
// carries nothing of its own (the type of a reference is optional).
func storedItem(v *value) bool {
	switch v.str("type") {
	case "item_reference":
		return true
	case "":
		_, id := v.member("id")
		_, role := v.member("role")
		_, content := v.member("content")
		return id && !role && !content
	}
	return false
}

// safeWord bounds a client-sent word before it is echoed.
func safeWord(s string) string {
	if !toolName.MatchString(s) {
		return "…"
	}
	return s
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
		// OpenAI's reasoning_effort; Anthropic-style thinking, which
		// compatible endpoints read.
		if t, ok := r.doc.member("thinking"); ok && t.kind == '{' && t.str("type") != "" && t.str("type") != "disabled" {
			return true
		}
		v, ok := r.doc.member("reasoning_effort")
		return ok && effort(v)
	case provider.Responses:
		v, ok := r.doc.member("reasoning")
		if !ok || v.kind != '{' {
			return false
		}
		e, ok := v.member("effort")
		return !ok || e.isNull() || effort(e) // no effort: the model's default
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

// ReasoningOff reports whether the request turns reasoning off, or down
// to almost nothing (an effort of "none" or "minimal", Anthropic's thinking
// disabled) — the same values Reasons does not count as asking — so that
// even a model that reasons by default is charged what it streamed.
func (r *Request) ReasoningOff() bool {
	off := func(effort string) bool { return effort == "none" || effort == "minimal" }
	switch r.Route {
	case provider.Chat:
		return off(r.doc.str("reasoning_effort"))
	case provider.Responses:
		if v, ok := r.doc.member("reasoning"); ok && v.kind == '{' {
			return off(v.str("effort"))
		}
	case provider.Messages:
		if v, ok := r.doc.member("thinking"); ok && v.kind == '{' {
			return v.str("type") == "disabled"
		}
	}
	return false
}
