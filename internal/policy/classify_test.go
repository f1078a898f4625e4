package policy

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/keyward/keyward/internal/apierr"
	"github.com/keyward/keyward/internal/provider"
)

var wide = Limits{MaxJSONDepth: 64}

// TestBilledPartsDecoded: parts are counted on the decoded body, so a JSON
// escape in a type name or a member name hides nothing; a part type named
// inside a prompt's text is not a part.
func TestBilledPartsDecoded(t *testing.T) {
	tests := []struct {
		name            string
		route           provider.Route
		body            string
		images, docs    int
		forwardContains string
	}{
		{"plain", provider.Messages, `{"model":"m","max_tokens":5,"messages":[{"role":"user","content":[{"type":"document","source":{"type":"url","url":"https://x/a.pdf"}}]}]}`, 0, 1, `"type":"document"`},
		{"escaped value", provider.Messages, `{"model":"m","max_tokens":5,"messages":[{"role":"user","content":[{"type":"docum\u0065nt","source":{"type":"url","url":"https://x/a.pdf"}}]}]}`, 0, 1, `"type":"document"`},
		{"escaped name", provider.Messages, `{"model":"m","max_tokens":5,"messages":[{"role":"user","content":[{"typ\u0065":"document","source":{"type":"url","url":"https://x/a.pdf"}}]}]}`, 0, 1, `"type":"document"`},
		{"fully escaped", provider.Messages, `{"model":"m","max_tokens":5,"messages":[{"role":"user","content":[{"\u0074\u0079\u0070\u0065":"\u0064\u006f\u0063\u0075\u006d\u0065\u006e\u0074","source":{"type":"url","url":"u"}}]}]}`, 0, 1, `"type":"document"`},
		{"chat image and file", provider.Chat, `{"model":"m","messages":[{"role":"user","content":[{"type":"image\u005furl","image_url":{"url":"https://x"}},{"type":"fil\u0065","file":{"file_id":"f"}}]}]}`, 1, 1, `"type":"image_url"`},
		{"responses", provider.Responses, `{"model":"m","input":[{"role":"user","content":[{"type":"input_image","image_url":"https://x"},{"type":"input\u005ffile","file_id":"f"}]}]}`, 1, 1, `"type":"input_file"`},
		{"named in text", provider.Chat, `{"model":"m","messages":[{"role":"user","content":"say \"type\":\"image\" and {\"type\":\"document\"}"}]}`, 0, 0, `say \"type\":\"image\"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := Parse(tt.route, []byte(tt.body), wide)
			if err != nil {
				t.Fatal(err)
			}
			if r.Images != tt.images || r.Documents != tt.docs {
				t.Errorf("images, documents = %d, %d; want %d, %d", r.Images, r.Documents, tt.images, tt.docs)
			}
			out := string(r.Body("target", "max_tokens"))
			if strings.Contains(out, `\u00`) || !strings.Contains(out, tt.forwardContains) {
				t.Errorf("forwarded body is not what was checked: %s", out)
			}
		})
	}
}

// TestUnboundedDecoded: hosted tools, stored state and stored input items
// are found however they are escaped; client-run tools are bounded.
func TestUnboundedDecoded(t *testing.T) {
	tests := []struct {
		name  string
		route provider.Route
		body  string
		want  string
	}{
		{"web search escaped", provider.Responses, `{"model":"m","input":"x","tools":[{"type":"web\u005fsearch"}]}`, "the hosted tool web_search"},
		{"type name escaped", provider.Responses, `{"model":"m","input":"x","tools":[{"typ\u0065":"code_interpreter","container":{"type":"auto"}}]}`, "the hosted tool code_interpreter"},
		{"mcp escaped", provider.Responses, `{"model":"m","input":"x","tools":[{"type":"\u006dcp","server_url":"https://x"}]}`, "the hosted tool mcp"},
		{"anthropic web search escaped", provider.Messages, `{"model":"m","max_tokens":5,"messages":[],"tools":[{"type":"web\u005fsearch_20250305","name":"web_search"}]}`, "the hosted tool web_search_20250305"},
		{"unknown hosted tool", provider.Responses, `{"model":"m","input":"x","tools":[{"type":"tool_search_2027"}]}`, "the hosted tool tool_search_2027"},
		{"odd tool type", provider.Chat, `{"model":"m","messages":[],"tools":[{"type":"a b\n"}]}`, "a tool of a type keyward does not know"},
		{"item reference", provider.Responses, `{"model":"m","input":[{"type":"message","role":"user","content":"x"},{"type":"item\u005freference","id":"msg_1"}]}`, "an item_reference input item"},
		{"chat web search options", provider.Chat, `{"model":"m","messages":[],"web_search_options":{}}`, `"web_search_options"`},
		{"escaped stateful field", provider.Responses, `{"model":"m","input":"x","previous\u005fresponse_id":"resp_1"}`, `"previous_response_id"`},
		{"mcp servers", provider.Messages, `{"model":"m","max_tokens":5,"messages":[],"mcp_servers":[{"type":"url","url":"https://x","name":"n"}]}`, `"mcp_servers"`},
		{"no mcp servers", provider.Messages, `{"model":"m","max_tokens":5,"messages":[],"mcp_servers":[]}`, ""},
		{"function tool", provider.Chat, `{"model":"m","messages":[],"tools":[{"type":"function","function":{"name":"f","parameters":{"type":"object","properties":{"type":{"type":"string","enum":["mcp"]}}}}}]}`, ""},
		{"anthropic custom tools", provider.Messages, `{"model":"m","max_tokens":5,"messages":[],"tools":[{"name":"f","input_schema":{"type":"object"}},{"type":"custom","name":"g","input_schema":{}},{"type":"bash_20250124","name":"bash"},{"type":"computer_20250124","name":"computer","display_width_px":1,"display_height_px":1}]}`, ""},
		{"responses function", provider.Responses, `{"model":"m","input":"x","background":false,"tools":[{"type":"function","name":"f","parameters":{}}]}`, ""},
		{"embeddings ignore", provider.Embeddings, `{"model":"m","input":"x","tools":[{"type":"web_search"}]}`, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := Parse(tt.route, []byte(tt.body), wide)
			if err != nil {
				t.Fatal(err)
			}
			if got := r.Unbounded(); got != tt.want {
				t.Errorf("Unbounded() = %q, want %q", got, tt.want)
			}
		})
	}
}

// TestStrictDecoding: what two JSON decoders could read differently is
// refused.
func TestStrictDecoding(t *testing.T) {
	tests := []struct{ name, body, msg string }{
		{"duplicate member", `{"model":"m","messages":[{"type":"text","type":"document"}]}`, "same member name twice"},
		{"duplicate escaped", `{"model":"m","mod\u0065l":"n"}`, "same member name twice"},
		{"invalid utf-8", "{\"model\":\"m\",\"messages\":\"\xff\"}", "not valid UTF-8"},
		{"trailing data", `{"model":"m"} {"model":"n"}`, "more after the JSON value"},
		{"trailing garbage", `{"model":"m"}x`, "at byte"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse(provider.Chat, []byte(tt.body), wide)
			pe, ok := err.(*Error)
			if !ok || pe.Code != apierr.InvalidJSON || !strings.Contains(pe.Message, tt.msg) {
				t.Fatalf("err = %v, want invalid_json %q", err, tt.msg)
			}
		})
	}
}

// TestBodyKeepsOrderAndNumbers: the forwarded body keeps the client's
// member order (structured outputs follow a schema's property order) and
// its numbers as written.
func TestBodyKeepsOrderAndNumbers(t *testing.T) {
	in := `{"temperature":0.70,"model":"fast","response_format":{"type":"json_schema","json_schema":{"schema":{"properties":{"zeta":{},"alpha":{}}}}},"seed":12345678901234567890,"logit_bias":{"50256":-100},"messages":[{"role":"user","content":"a\/b <\u00e9>"}]}`
	r, err := Parse(provider.Chat, []byte(in), Limits{MaxJSONDepth: 64})
	if err != nil {
		t.Fatal(err)
	}
	want := `{"temperature":0.70,"model":"gpt-x","response_format":{"type":"json_schema","json_schema":{"schema":{"properties":{"zeta":{},"alpha":{}}}}},"seed":12345678901234567890,"logit_bias":{"50256":-100},"messages":[{"role":"user","content":"a/b <é>"}]}`
	if diff := cmp.Diff(want, string(r.Body("gpt-x", ""))); diff != "" {
		t.Errorf("body (-want +got):\n%s", diff)
	}
}

// TestPromptCountsAllText: text documents, response-format schemas and
// tool schemas count toward the prompt cap; token arrays count as numbers.
func TestPromptCountsAllText(t *testing.T) {
	doc := strings.Repeat("d", 500)
	tests := []struct {
		name           string
		route          provider.Route
		body           string
		chars, numbers int
	}{
		{"text document", provider.Messages, `{"model":"m","max_tokens":5,"messages":[{"role":"user","content":[{"type":"document","source":{"type":"text","media_type":"text/plain","data":"` + doc + `"}}]}]}`,
			len("user") + len("document") + len("text") + len("text/plain") + 500, 0},
		{"pdf document skipped", provider.Messages, `{"model":"m","max_tokens":5,"messages":[{"role":"user","content":[{"type":"document","source":{"type":"base64","media_type":"application/pdf","data":"` + doc + `"}}]}]}`,
			len("user") + len("document"), 0},
		{"response format schema", provider.Chat, `{"model":"m","response_format":{"type":"json_schema","json_schema":{"name":"r","schema":{"properties":{"answer":{"type":"string"}}}}}}`,
			len("type") + len("json_schema") + len("json_schema") + len("name") + len("r") + len("schema") + len("properties") + len("answer") + len("type") + len("string"), 0},
		{"responses text format", provider.Responses, `{"model":"m","text":{"format":{"type":"json_schema","schema":{"properties":{"answer":{}}}}}}`,
			len("format") + len("type") + len("json_schema") + len("schema") + len("properties") + len("answer"), 0},
		{"token arrays", provider.Embeddings, `{"model":"m","input":[[1000,1001,1002],[7,8]]}`, 0, 5},
		{"single token array", provider.Embeddings, `{"model":"m","input":[1,2,3,4]}`, 0, 4},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := Parse(tt.route, []byte(tt.body), wide)
			if err != nil {
				t.Fatal(err)
			}
			if r.PromptChars != tt.chars || r.PromptNumbers != tt.numbers {
				t.Errorf("chars, numbers = %d, %d; want %d, %d", r.PromptChars, r.PromptNumbers, tt.chars, tt.numbers)
			}
		})
	}
	// The cap refuses a text document that is too long.
	body := `{"model":"m","max_tokens":5,"messages":[{"role":"user","content":[{"type":"document","source":{"type":"text","data":"` + doc + `"}}]}]}`
	if _, err := Parse(provider.Messages, []byte(body), Limits{MaxPromptChars: 400, MaxJSONDepth: 64}); err == nil || err.(*Error).Code != apierr.PromptTooLarge {
		t.Fatalf("text document over the cap: %v", err)
	}
}
