package rules

func init() {
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
	register(&Rule{
		ID:          "azure-openai-key",
		Provider:    "Azure OpenAI",
		Description: "Azure OpenAI / Azure AI Services key (84-character identifiable format)",
		Keywords:    []string{"jqqj99"},
		Regex:       token(`[A-Za-z0-9]{52}JQQJ99[A-Za-z0-9][A-L][A-Za-z0-9]{12}AAA[AB]ACOG[A-Za-z0-9]{4}`, `\b`),
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
	// OpenAI context must be on the line: AZURE_OPENAI_*, the resource host
	// (*.openai.azure.com, *.cognitiveservices.azure.com) or "azure" with
	// "openai" in the name.
	// Verified: trufflesecurity/trufflehog pkg/detectors/azure_openai/azure_openai.go,
	// mongodb/kingfisher data/rules/azureopenai.yml.
	register(&Rule{
		ID:          "azure-openai-legacy-key",
		Provider:    "Azure OpenAI",
		Description: "Azure OpenAI key (32-hex format)",
		Keywords:    []string{"azure", "aoai"},
		Regex: near(`azure[\w.-]{0,10}?openai|openai[\w.-]{0,10}?azure|\baoai[\w.-]{0,10}?key|`+
			`\.openai\.azure\.com|\.cognitiveservices\.azure\.com`, `[a-fA-F0-9]{32}\b`),
		Entropy:  3.0,
		Severity: Critical,
		TruePositives: []string{
			"AZURE_OPENAI_API_KEY=" + legacy,
			`AZURE_OPENAI_KEY: "` + legacy + `"`,
			`const client = new AzureOpenAI({ endpoint: "https://contoso.openai.azure.com", apiKey: "` + legacy + `" });`,
			`curl "https://contoso.openai.azure.com/openai/deployments?api-version=2024-10-21" -H "api-key: ` + legacy2 + `"`,
			`{"azure_openai_api_key": "` + legacy2 + `"}`,
			`llm = AzureChatOpenAI(api_key="` + legacy2 + `", azure_endpoint=endpoint)`,
		},
		FalsePositives: []string{
			`AZURE_OPENAI_API_KEY=<your-key>`,
			`AZURE_OPENAI_API_KEY=xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx`,
			"AZURE_OPENAI_API_KEY=" + fake("azure-fp-short", hexLower, 31),
			"AZURE_OPENAI_DEPLOYMENT=gpt-4o-" + fake("azure-fp-dep", lowerAZ, 6),
			"AZURE_STORAGE_ACCOUNT_KEY_MD5=" + legacy, // Azure, but not OpenAI
			"OPENAI_API_VERSION=2024-10-21\nETAG=" + legacy,
		},
	})
}
