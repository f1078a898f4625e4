package usage

// EstimateInput is a realistic estimate of a prompt's tokens, for token
// rate limits: a token per four characters of text, a token per number
// (token arrays are a token each), plus a little for each message's
// framing.
func EstimateInput(promptChars, promptNumbers int) int64 {
	return int64(promptChars+3)/4 + int64(promptNumbers) + 8
}

const (
	// imageAllowance and documentAllowance are the most input tokens an
	// image or a document part is taken to cost: an image (the dearest
	// tokenisers, gpt-4.1-nano's patches, reach about 3.8k), a document or
	// file (Anthropic and OpenAI read at most 100 PDF pages, about 3k tokens
	// each as text and image), however it is sent — inline or by reference.
	imageAllowance    = 4_000
	documentAllowance = 300_000
	// inputAllowance covers what a provider adds to every prompt
	// (Anthropic's tool-use system prompt is the largest, a few hundred
	// tokens).
	inputAllowance = 1000
)

// BoundInput is an upper bound of a request's input tokens, for spend
// reservations: tokenizers produce at most a token per byte of text, the
// provider adds inputAllowance at most, and each image or document part
// (counted on the decoded request) is allowed its allowance more. (Input
// the provider adds from state it keeps is not bounded here: see
// policy.Request.Unbounded.)
func BoundInput(bodyBytes, images, documents int) int64 {
	return int64(bodyBytes) + inputAllowance + int64(images)*imageAllowance + int64(documents)*documentAllowance
}
