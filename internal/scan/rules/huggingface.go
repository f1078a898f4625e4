package rules

func init() {
	key := "hf_" + fake("huggingface", letters, 34)
	key2 := "hf_" + fake("huggingface-2", letters, 34)

	// Hugging Face user access tokens: hf_ + 34 characters, 37 in all.
	// Issued tokens are letters only; digits are accepted as well since
	// not every detector agrees (and that costs no precision at this
	// length). The deprecated api_org_ tokens are not covered.
	// Verified: https://huggingface.co/docs/hub/security-tokens,
	// gitleaks/gitleaks cmd/generate/config/rules/huggingface.go,
	// google/osv-scalibr veles/secrets/huggingfaceapikey/detector.go.
	register(&Rule{
		ID:          "huggingface-token",
		Provider:    "Hugging Face",
		Description: "Hugging Face access token",
		Keywords:    []string{"hf_"},
		Regex:       token(`hf_[A-Za-z0-9]{34}`, `\b`),
		Entropy:     3.5,
		Severity:    Critical,
		TruePositives: append(contexts("HF_TOKEN", key),
			`huggingface-cli login --token `+key2,
			`login(token="`+key2+`")`,
			`const hf = new HfInference("`+key2+`");`,
		),
		FalsePositives: []string{
			`HF_TOKEN=hf_...`,
			`HF_TOKEN=hf_xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx`,
			`HUGGINGFACEHUB_API_TOKEN=<your-hf-token>`,
			`- (id)hf_requiredCharacteristicTypesForDisplayMetadata;`,
			`amazon.de#@#div[data-cel-widget="desktop-rhf_SponsoredProductsRemoteRHFSearch"]`,
			"hf_" + fake("hf-fp-short", letters, 33),
			"self._hf_" + fake("hf-fp-underscore", letters, 34),
		},
	})
}
