package policy

// Adversarial review of dcb4df9 (decoded-tree checks). Each test fails on a
// bypass: a body keyward classifies one way and the provider reads another.

import (
	"strings"
	"testing"

	"github.com/keyward/keyward/internal/provider"
)

// TestReviewSchemaPropertyNamedLikeBinary: a tool or response-format schema
// is rendered into the prompt whole, but promptText skips every member
// named like a binary payload ("url", "data", "image", "audio", "file_id",
// "signature", …) in schema fields too, with everything under it — so a
// property called "url" carries any amount of description text past
// max_prompt_chars and the tpm estimate.
func TestReviewSchemaPropertyNamedLikeBinary(t *testing.T) {
	desc := strings.Repeat("describe the url field in great detail. ", 1250) // 50,000 characters
	for _, tt := range []struct {
		name  string
		route provider.Route
		body  string
	}{
		{"anthropic tool property url", provider.Messages,
			`{"model":"m","max_tokens":10,"messages":[{"role":"user","content":"hi"}],"tools":[{"name":"fetch","input_schema":{"type":"object","properties":{"url":{"type":"string","description":"` + desc + `"}}}}]}`},
		{"chat function property data", provider.Chat,
			`{"model":"m","messages":[{"role":"user","content":"hi"}],"tools":[{"type":"function","function":{"name":"f","parameters":{"type":"object","properties":{"data":{"type":"string","description":"` + desc + `"}}}}}]}`},
		{"chat response_format property image", provider.Chat,
			`{"model":"m","messages":[{"role":"user","content":"hi"}],"response_format":{"type":"json_schema","json_schema":{"name":"s","schema":{"type":"object","properties":{"image":{"type":"string","description":"` + desc + `"}}}}}}`},
		{"responses text.format property signature", provider.Responses,
			`{"model":"m","input":"hi","text":{"format":{"type":"json_schema","name":"s","schema":{"type":"object","properties":{"signature":{"type":"string","description":"` + desc + `"}}}}}}`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r, err := Parse(tt.route, []byte(tt.body), Limits{MaxPromptChars: 1000, MaxOutputTokens: 100})
			if err == nil {
				t.Fatalf("50,000 characters of schema text passed max_prompt_chars 1000 (counted %d)", r.PromptChars)
			}
		})
	}
}

// TestReviewToolUseInputUncounted: Anthropic renders an assistant
// tool_use block's "input" object into the prompt as JSON, member names
// included; keyward counts neither its member names (Text mode) nor values
// under binary-named members such as "data" or "url".
func TestReviewToolUseInputUncounted(t *testing.T) {
	big := strings.Repeat("x", 50000)
	for name, input := range map[string]string{
		"member names":  `{"` + big + `":1}`,
		"data member":   `{"data":"` + big + `"}`,
		"url in nested": `{"q":{"url":"` + big + `"}}`,
	} {
		t.Run(name, func(t *testing.T) {
			body := `{"model":"m","max_tokens":10,"messages":[{"role":"user","content":"hi"},{"role":"assistant","content":[{"type":"tool_use","id":"toolu_1","name":"f","input":` + input + `}]},{"role":"user","content":[{"type":"tool_result","tool_use_id":"toolu_1","content":"ok"}]}]}`
			r, err := Parse(provider.Messages, []byte(body), Limits{MaxPromptChars: 1000, MaxOutputTokens: 100})
			if err == nil {
				t.Fatalf("a 50,000-character tool_use input passed max_prompt_chars 1000 (counted %d)", r.PromptChars)
			}
		})
	}
}

// TestReviewUntypedItemReference: in the Responses API an item reference's
// "type" is optional ({"id": "msg_…"} alone is one: ItemReferenceParam has
// type Optional[Literal["item_reference"]]). keyward only recognises
// type == "item_reference", so a type-less (or "type": null) reference pulls
// stored items into the prompt under a spend cap.
func TestReviewUntypedItemReference(t *testing.T) {
	for _, input := range []string{`[{"id":"msg_0123"}]`, `[{"type":null,"id":"msg_0123"}]`} {
		r, err := Parse(provider.Responses, []byte(`{"model":"m","input":`+input+`}`), Limits{MaxOutputTokens: 100})
		if err != nil {
			t.Fatal(err)
		}
		if r.Unbounded() == "" {
			t.Errorf("input %s (an item reference) is taken as bounded", input)
		}
	}
}

// TestReviewTwoOutputTokenFields: chat accepts max_tokens and
// max_completion_tokens. keyward reserves and estimates the smaller of the
// two, but forwards both — the larger clamped only to the plan's cap — and
// a provider that reads max_completion_tokens first (vLLM-based and other
// compatible servers; OpenAI's own newer models) generates up to the larger.
func TestReviewTwoOutputTokenFields(t *testing.T) {
	r, err := Parse(provider.Chat, []byte(`{"model":"m","messages":[],"max_tokens":1,"max_completion_tokens":100000}`), Limits{MaxOutputTokens: 4096})
	if err != nil {
		t.Fatal(err)
	}
	body := string(r.Body("m", "max_completion_tokens"))
	if r.OutputTokens < 4096 && strings.Contains(body, `"max_completion_tokens":4096`) {
		t.Fatalf("reserved/estimated %d output tokens, forwarded %s", r.OutputTokens, body)
	}
}

// TestReviewReasoningRequestedNotSeen: Reasons() misses ways a request
// asks for reasoning, so an early end is charged only what streamed:
// Responses "reasoning": {"effort": null} (the provider's default effort),
// and chat "thinking" (Anthropic's and others' OpenAI-compatible endpoints
// read it as Anthropic's thinking) on the chat route.
func TestReviewReasoningRequestedNotSeen(t *testing.T) {
	for _, tt := range []struct {
		route provider.Route
		body  string
	}{
		{provider.Responses, `{"model":"m","input":"x","reasoning":{"effort":null}}`},
		{provider.Chat, `{"model":"m","messages":[],"thinking":{"type":"enabled","budget_tokens":30000}}`},
	} {
		r, err := Parse(tt.route, []byte(tt.body), Limits{MaxOutputTokens: 32000})
		if err != nil {
			t.Fatal(err)
		}
		if !r.Reasons() {
			t.Errorf("%s %s: reasoning requested, Reasons() false", tt.route, tt.body)
		}
	}
}

// TestReviewImagePartsByOtherNames: parts billed as images whose type is
// not one of image_url/input_image/image get no image allowance: the
// Responses computer_call_output's {"type":"computer_screenshot",
// "image_url": "https://…"} is a URL of a few bytes the provider fetches
// and bills as an image.
func TestReviewImagePartsByOtherNames(t *testing.T) {
	body := `{"model":"m","input":[{"type":"computer_call_output","call_id":"c1","output":{"type":"computer_screenshot","image_url":"https://example.com/s.png"}}]}`
	r, err := Parse(provider.Responses, []byte(body), Limits{MaxOutputTokens: 100})
	if err != nil {
		t.Fatal(err)
	}
	if r.Images == 0 {
		t.Fatalf("a screenshot image counted as %d images", r.Images)
	}
}
