package rules

import (
	"regexp"
	"strings"
)

// azureRules returns Azure OpenAI's rules, in report order.
func azureRules() []*Rule {
	var rs []*Rule
	// An Azure OpenAI key in Microsoft's identifiable format, built from its
	// parts (see below); "B" marks the Azure OpenAI provider.
	cask := func(label, provider string) string {
		return fake(label, base62, 52) + "JQQJ99" + fake(label+"-v", base62, 1) +
			fake(label+"-m", "ABCDEFGHIJKL", 1) + fake(label+"-p", base62, 12) +
			"AAA" + provider + "ACOG" + fake(label+"-c", base62, 4)
	}
	openaiKey := cask("azure-openai", "B")
	aiServicesKey := cask("azure-aiservices", "A")
	legacy := fake("azure-legacy", hexLower, 32)
	legacy2 := fake("azure-legacy-2", hexLower, 32)

	// Azure OpenAI / Azure AI Services keys in the identifiable format Azure
	// has issued since late 2024: 84 base62 characters, 52 random, then a
	// fixed layout:
	//
	//	<52 random>JQQJ99<1><A-L><12 platform>AAA<service>ACOG<4 checksum>
	//
	// "JQQJ" marks Microsoft's common annotated security keys, "9" an access
	// key, "ACOG" Cognitive Services, and the service character is "B" for
	// Azure OpenAI, "A" for multi-service AI Services resources (which also
	// serve OpenAI models). No context is needed: the layout identifies it.
	// Verified: microsoft/security-utilities
	// src/Microsoft.Security.Utilities.Core/PreciselyClassifiedSecurityKeys/LegacyCommonAnnotatedSecurityAccessKey.cs,
	// CognitiveServiceLegacyCommonAnnotatedSecurityKey.cs,
	// SEC101_206_AzureOpenAILegacyCommonAnnotatedSecurityKey.cs and
	// LegacyCaskProviderSignatures.cs; the 84-character length is also quoted
	// from Azure's docs in github.com/binary-husky/gpt_academic/pull/2098.
	rs = append(rs, &Rule{
		ID:          "azure-openai-key",
		Provider:    "Azure OpenAI",
		Description: "Azure OpenAI / Azure AI Services key (84-character identifiable format)",
		Keywords:    []string{"jqqj99"},
		Regex:       token(`[A-Za-z0-9]{52}JQQJ99[A-Za-z0-9][A-L][A-Za-z0-9]{12}AAA[AB]ACOG[A-Za-z0-9]{4}`, `\b`),
		Redact:      loose(`[A-Za-z0-9]{8,}JQQJ99[A-Za-z0-9]*`, "jqqj99"),
		Entropy:     3.5,
		Severity:    Critical,
		TruePositives: append(contexts("AZURE_OPENAI_API_KEY", openaiKey),
			"AZURE_AI_SERVICES_KEY="+aiServicesKey,
			`client = AzureOpenAI(api_key="`+openaiKey+`", azure_endpoint="https://contoso.openai.azure.com")`,
			`curl https://contoso.openai.azure.com/openai/deployments -H "api-key: `+openaiKey+`"`,
		),
		FalsePositives: []string{
			`AZURE_OPENAI_API_KEY=<your-azure-openai-key>`,
			cask("azure-fp-other", "C")[:84],                             // another Cognitive Service
			fake("azure-fp-len", base62, 51) + openaiKey[52:],            // 83 characters
			fake("azure-fp-sig", base62, 52) + "JQQJ9D" + openaiKey[58:], // a derived, not an access, key
		},
	})

	// Azure OpenAI keys in the older format: 32 hex with no prefix, so Azure
	// OpenAI must be named near the key (Context, within ContextReach bytes
	// before or after it): OPENAI_API_TYPE=azure, an AZURE_OPENAI_* name or
	// an AzureOpenAI client, or the resource host (*.openai.azure.com,
	// *.cognitiveservices.azure.com) in a base URL, an endpoint or
	// openai.api_base. The key is either written with that context on its
	// line (AZURE_OPENAI_KEY=…, as near reads it) or assigned to an API key
	// name (OPENAI_API_KEY=…, apiKey: "…", 'api-key': '…') with the context
	// a few lines away, as the openai SDKs' Azure settings are written. A
	// bare 32-hex value, or one assigned with no Azure context around it, is
	// not reported: MD5 digests, ETags and build ids look the same.
	// Verified: trufflesecurity/trufflehog pkg/detectors/azure_openai/azure_openai.go
	// (and the shapes in its azure_openai_test.go), mongodb/kingfisher
	// data/rules/azureopenai.yml.
	azureContext := `azure[\w./-]{0,10}?openai|openai[\w.-]{0,10}?azure|\baoai[\w.-]{0,10}?key|` +
		`\.openai\.azure\.com|\.cognitiveservices\.azure\.com`
	legacy3 := fake("azure-legacy-3", hexLower, 32)
	legacy4 := fake("azure-legacy-4", hexLower, 32)
	// padding is more than ContextReach bytes of settings that name no
	// provider.
	padding := strings.Repeat("LOG_LEVEL=info\nFEATURE_FLAGS=search,upload\n", 30)
	rs = append(rs, &Rule{
		ID:          "azure-openai-legacy-key",
		Provider:    "Azure OpenAI",
		Description: "Azure OpenAI key (32-hex format)",
		Keywords:    []string{"azure", "aoai"},
		Regex:       nearOrNamed(azureContext, `api[_.-]?key|openai[_.-]?key`, `[a-fA-F0-9]{32}\b`),
		Context:     regexp.MustCompile(`(?i)api[_.-]?type\W{0,8}azure|` + azureContext),
		Entropy:     3.0,
		Severity:    Critical,
		TruePositives: []string{
			"AZURE_OPENAI_API_KEY=" + legacy,
			`AZURE_OPENAI_KEY: "` + legacy + `"`,
			`const client = new AzureOpenAI({ endpoint: "https://contoso.openai.azure.com", apiKey: "` + legacy + `" });`,
			`curl "https://contoso.openai.azure.com/openai/deployments?api-version=2024-10-21" -H "api-key: ` + legacy2 + `"`,
			`{"azure_openai_api_key": "` + legacy2 + `"}`,
			`llm = AzureChatOpenAI(api_key="` + legacy2 + `", azure_endpoint=endpoint)`,
			// The context on other lines, before or after the key.
			"export OPENAI_API_VERSION=2023-07-15-preview\nexport OPENAI_API_TYPE=AZURE\n" +
				"export OPENAI_API_BASE=https://contoso-gpt4.openai.azure.com/\nexport OPENAI_API_KEY=" + legacy3,
			"import openai\n\nopenai.api_key = '" + legacy3 + "'\nopenai.api_base = \"https://contoso-openai.openai.azure.com/\"\n",
			`os.environ["OPENAI_API_TYPE"] = "azure"` + "\n" + `os.environ["OPENAI_API_VERSION"] = "2023-03-15-preview"` + "\n" +
				`os.environ["OPENAI_API_KEY"] = '` + legacy4 + "'",
			"import OpenAI from \"openai\";\nexport const openai = new OpenAI({\n  apiKey: \"" + legacy4 + "\",\n  baseURL:\n" +
				"    \"https://contoso.openai.azure.com/openai/deployments/chat\",\n  defaultQuery: { \"api-version\": \"2023-06-01-preview\" },\n});",
			"# message='Request to OpenAI API' method=post path=https://contoso.openai.azure.com/openai/deployments/ada/embeddings?api-version=2022-12-01\n" +
				"# api_version=2022-12-01 data='{\"input\": [\"a test query\"]}' message='Post details'\n" +
				"# {'User-Agent': 'OpenAI/v1 PythonBindings/0.27.6', 'api-key': '" + legacy3 + "', 'Content-Type': 'application/json'}",
			"{\n  \"IsEncrypted\": false,\n  \"Values\": {\n    \"AZURE_OPENAI_ENDPOINT\": \"https://contoso.openai.azure.com/\",\n" +
				"    \"OPENAI_API_KEY\": \"" + legacy4 + "\"\n  }\n}",
		},
		FalsePositives: []string{
			`AZURE_OPENAI_API_KEY=<your-key>`,
			`AZURE_OPENAI_API_KEY=xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx`,
			"AZURE_OPENAI_API_KEY=" + fake("azure-fp-short", hexLower, 31),
			"AZURE_OPENAI_API_KEY=" + fake("azure-fp-long", hexLower, 33),
			"AZURE_OPENAI_DEPLOYMENT=gpt-4o-" + fake("azure-fp-dep", lowerAZ, 6),
			"AZURE_STORAGE_ACCOUNT_KEY_MD5=" + legacy, // Azure, but not OpenAI
			"OPENAI_API_VERSION=2024-10-21\nETAG=" + legacy,
			// A bare 32-hex value, and one with no Azure context, are not keys
			// anyone can tell apart from a digest.
			legacy3,
			`const etag = "` + legacy3 + `";`,
			"OPENAI_API_KEY=" + legacy3,
			"OPENAI_API_TYPE=open_ai\nOPENAI_API_BASE=https://api.openai.com/v1\nOPENAI_API_KEY=" + legacy3,
			// Azure context, but no key name: a deployment id, a build hash.
			"AZURE_OPENAI_ENDPOINT=https://contoso.openai.azure.com/\nBUILD_ID=" + legacy4,
			// Azure context, but further than ContextReach from the key.
			"AZURE_OPENAI_ENDPOINT=https://contoso.openai.azure.com/\n" + padding + "OPENAI_API_KEY=" + legacy4,
			"OPENAI_API_KEY=" + legacy4 + "\n" + padding + "OPENAI_API_TYPE=azure",
		},
	})
	return rs
}
