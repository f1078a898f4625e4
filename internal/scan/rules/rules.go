package rules

import "slices"

// all is every rule, in the order reports, SARIF and the detector list
// them: by provider, then as each provider's file lists its rules. A rule
// that is not here does not exist; there is no registration at init.
var all = slices.Concat(
	anthropicRules(),
	awsRules(),
	azureRules(),
	cerebrasRules(),
	clerkRules(),
	cohereRules(),
	deepseekRules(),
	elevenlabsRules(),
	fireworksRules(),
	geminiRules(),
	genericRules(),
	githubRules(),
	groqRules(),
	huggingfaceRules(),
	keywardRules(),
	langsmithRules(),
	mistralRules(),
	openaiRules(),
	openrouterRules(),
	perplexityRules(),
	pineconeRules(),
	privateKeyRules(),
	replicateRules(),
	resendRules(),
	sendgridRules(),
	slackRules(),
	stripeRules(),
	supabaseRules(),
	togetherRules(),
	xaiRules(),
)

// All returns every rule: each one's id, provider, regex, filters and
// true- and false-positive samples. The slice is the caller's; the rules
// it points to are shared and must not be changed.
func All() []*Rule { return slices.Clone(all) }
