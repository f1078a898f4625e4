package nextaudit

import "strings"

// publicPrefixes are env variable prefixes that frameworks inline into
// client bundles.
var publicPrefixes = []string{"NEXT_PUBLIC_", "VITE_", "REACT_APP_", "EXPO_PUBLIC_", "PUBLIC_"}

// publicPrefix returns the public prefix a name starts with, or "".
func publicPrefix(name string) string {
	for _, p := range publicPrefixes {
		if strings.HasPrefix(name, p) {
			return p
		}
	}
	return ""
}

// secretWords are the parts of a variable name that say it holds a secret.
var secretWords = map[string]bool{
	"KEY": true, "APIKEY": true, "SECRET": true, "SECRETS": true, "TOKEN": true, "PASSWORD": true, "PASSWD": true,
	"CREDENTIAL": true, "CREDENTIALS": true, "PRIVATE": true, "PAT": true,
}

// publicByDesign are name fragments of values meant to be public even
// though the name says key or token: publishable keys, anon keys, site
// keys, search-only keys, public keys.
var publicByDesign = []string{
	"PUBLISHABLE", "ANON_KEY", "ANON_PUBLIC", "PUBLIC_KEY", "SITE_KEY", "SITEKEY", "SEARCH_ONLY", "SEARCH_KEY", "SEARCH_API_KEY",
	"FIREBASE_API_KEY", "FIREBASE_KEY", "POSTHOG_KEY", "POSTHOG_TOKEN", "MIXPANEL_TOKEN", "MAPBOX_TOKEN", "MAPBOX_ACCESS_TOKEN",
	"MEASUREMENT_ID", "VAPID_KEY", "KEY_ID", "TOKEN_URL", "KEY_URL", "SECRET_NAME",
}

// isSecretName reports whether an env variable's name says it holds a
// secret (key, secret, token, password, …) and is not one of the kinds of
// keys that are public by design (Stripe publishable keys, Supabase anon
// keys, reCAPTCHA site keys, …).
func isSecretName(name string) bool {
	u := strings.ToUpper(name)
	for _, p := range publicByDesign {
		if strings.Contains(u, p) {
			return false
		}
	}
	for _, part := range strings.FieldsFunc(u, func(r rune) bool { return r == '_' || r == '-' || r == '.' }) {
		if secretWords[part] {
			return true
		}
		// OPENAIKEY, APIKEY, AUTHTOKEN written as one word.
		for _, w := range []string{"APIKEY", "SECRET", "TOKEN", "PASSWORD"} {
			if strings.HasSuffix(part, w) && len(part) > len(w) {
				return true
			}
		}
	}
	return false
}

// providerPackages are AI provider SDKs that hold a provider key when
// used: importing one into a client module puts the call, and the key it
// needs, in the browser.
var providerPackages = []string{
	"openai", "@anthropic-ai/sdk", "@anthropic-ai/bedrock-sdk", "@anthropic-ai/vertex-sdk",
	"@google/generative-ai", "@google/genai", "@google-cloud/vertexai", "groq-sdk", "@mistralai/mistralai",
	"cohere-ai", "together-ai", "replicate", "@huggingface/inference", "@pinecone-database/pinecone",
	"@langchain/openai", "@langchain/anthropic", "@langchain/google-genai", "@langchain/groq", "@langchain/mistralai",
	"@openrouter/ai-sdk-provider", "elevenlabs", "@elevenlabs/elevenlabs-js", "@fireworks-ai/sdk", "@cerebras/cerebras_cloud_sdk",
	"@azure/openai", "langsmith",
}

// aiSDKNonProviders are @ai-sdk/* packages that hold no key: the UI hooks
// and shared utilities.
var aiSDKNonProviders = map[string]bool{
	"@ai-sdk/react": true, "@ai-sdk/vue": true, "@ai-sdk/svelte": true, "@ai-sdk/solid": true, "@ai-sdk/angular": true,
	"@ai-sdk/ui-utils": true, "@ai-sdk/provider": true, "@ai-sdk/provider-utils": true, "@ai-sdk/rsc": true,
}

// providerPackage returns the provider package an import specifier names
// ("openai/resources" → "openai"), or "".
func providerPackage(spec string) string {
	name := packageName(spec)
	if strings.HasPrefix(name, "@ai-sdk/") && !aiSDKNonProviders[name] {
		return name
	}
	for _, p := range providerPackages {
		if name == p {
			return p
		}
	}
	return ""
}

// packageName is the package part of a bare import specifier:
// "@scope/name/sub" → "@scope/name", "name/sub" → "name".
func packageName(spec string) string {
	parts := strings.SplitN(spec, "/", 3)
	if strings.HasPrefix(spec, "@") && len(parts) >= 2 {
		return parts[0] + "/" + parts[1]
	}
	return parts[0]
}

// providerHosts are the API hosts of AI providers; a URL with one of them
// in a client module is a provider call from the browser.
var providerHosts = []string{
	"api.openai.com", "api.anthropic.com", "generativelanguage.googleapis.com", "aiplatform.googleapis.com",
	"api.groq.com", "api.mistral.ai", "api.cohere.ai", "api.cohere.com", "api.together.xyz", "api.together.ai",
	"api.fireworks.ai", "api.perplexity.ai", "api.deepseek.com", "api.x.ai", "openrouter.ai/api",
	"api-inference.huggingface.co", "router.huggingface.co", "api.replicate.com", "api.elevenlabs.io",
	"api.cerebras.ai", ".openai.azure.com", ".cognitiveservices.azure.com",
}

// providerHost returns the provider host a string mentions, or "".
func providerHost(s string) string {
	if len(s) > 2048 || !strings.Contains(s, ".") {
		return ""
	}
	l := strings.ToLower(s)
	for _, h := range providerHosts {
		if strings.Contains(l, h) {
			return strings.TrimPrefix(h, ".")
		}
	}
	return ""
}
