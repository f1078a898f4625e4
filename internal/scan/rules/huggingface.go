package rules

// huggingfaceRules returns Hugging Face's rule.
func huggingfaceRules() []*Rule {
	var rs []*Rule
	key := "hf_" + fake("huggingface", letters, 34)
	key2 := "hf_" + fake("huggingface-2", letters, 34)

	// Hugging Face user access tokens: hf_ + 34 characters, 37 in all.
	// Issued tokens are letters only; digits are accepted as well since
	// not every detector agrees (and that costs no precision at this
	// length). The deprecated api_org_ tokens are the next rule's.
	// Verified: https://huggingface.co/docs/hub/security-tokens,
	// gitleaks/gitleaks cmd/generate/config/rules/huggingface.go,
	// google/osv-scalibr veles/secrets/huggingfaceapikey/detector.go.
	rs = append(rs, &Rule{
		ID:          "huggingface-token",
		Provider:    "Hugging Face",
		Description: "Hugging Face access token",
		Keywords:    []string{"hf_"},
		Regex:       token(`hf_[A-Za-z0-9]{34}`, `\b`),
		Redact:      loose(`hf_[A-Za-z0-9]{20,}`, "hf_"),
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

	org := "api_org_" + fake("huggingface-org", letters, 34)
	org2 := "api_org_" + fake("huggingface-org-2", letters, 34)

	// Hugging Face organization API tokens, deprecated in 2023 but still in
	// old notebooks, scripts and .env files: api_org_ + 34 letters, 42 in
	// all. The prefix must start a token ("_api_org_…" is a name) and a
	// letter or digit must not follow.
	// Verified: gitleaks/gitleaks cmd/generate/config/rules/huggingface.go
	// (huggingface-organization-api-token and its samples),
	// https://huggingface.co/docs/hub/security-tokens.
	rs = append(rs, &Rule{
		ID:          "huggingface-org-token",
		Provider:    "Hugging Face",
		Description: "Hugging Face organization API token (api_org_, deprecated)",
		Keywords:    []string{"api_org_"},
		Regex:       token(`api_org_[A-Za-z]{34}`, `\b`),
		Redact:      loose(`api_org_[A-Za-z0-9]{20,}`, "api_org_"),
		Entropy:     3.5,
		Severity:    Critical,
		TruePositives: append(contexts("HUGGINGFACEHUB_API_TOKEN", org),
			`os.environ['HUGGINGFACEHUB_API_TOKEN'] = '`+org2+`'`,
			`ds = datasets.load_dataset("acme/news", use_auth_token='`+org2+`')`,
			`hf_token = "`+org2+`"  # the CI organization's token`,
			"`"+org2+"`",
			org2,
		),
		FalsePositives: []string{
			`public static final String API_ORG_EXIST = "APIOrganizationExist";`,
			`const api_org_controller = require('../../controllers/api/index').organizations;`,
			`def test_internal_api_org_inclusion_with_href(api_name, href, expected):`,
			"def _api_org_" + fake("hf-org-fp-fixture", hexLower, 8) + "_" + fake("hf-org-fp-fixture-2", hexLower, 4) + "(self, method, url):",
			`You should see a token hf_xxxxx (old tokens are api_XXXXXXXX or api_org_xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx).`,
			"api_org_" + fake("hf-org-fp-short", letters, 33),
			"api_org_" + fake("hf-org-fp-digit", letters, 34) + "7",
			"self._api_org_" + fake("hf-org-fp-underscore", letters, 34),
		},
	})
	return rs
}
